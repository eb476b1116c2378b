"""Start real simulator processes on 127.0.0.1 (for the API, CLI, metrics and shutdown tests)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
SIM = [sys.executable, "-m", "vllm_sim"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SimProcess:
    proc: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"simulator exited {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"simulator not ready after {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sim(
    tmp_path: Path, *flags: str, env: dict[str, str] | None = None, model: str = QWEN, wait: bool = True
) -> SimProcess:
    port = free_port()
    log = tmp_path / f"sim-{port}.log"
    full_env = {**os.environ, "VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": "0.05", **(env or {})}
    cmd = [*SIM, "serve", model, "--host", "127.0.0.1", "--port", str(port), *flags]
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=full_env, text=True)
    sim = SimProcess(proc, port, log)
    if wait:
        sim.wait_ready()
    return sim


def run_sim(
    *args: str, env: dict[str, str] | None = None, timeout: float = 15
) -> subprocess.CompletedProcess[str]:
    """Run `vllm serve ...` to completion (for startup failures)."""
    full_env = {**os.environ, "VLLM_SIM_GPU": "L4", **(env or {})}
    return subprocess.run([*SIM, *args], capture_output=True, text=True, env=full_env, timeout=timeout)


def call(sim: SimProcess, path: str, body: dict | None = None, key: str | None = None) -> tuple[int, bytes]:
    """One HTTP request (POST when there is a body); returns (status, raw body), errors included."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{sim.url}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def scrape(sim: SimProcess) -> dict[str, Metric]:
    """/metrics parsed into families by name."""
    text = call(sim, "/metrics")[1].decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families: dict[str, Metric], name: str, **labels: str) -> float:
    """The value of the sample `name` (e.g. `vllm:prompt_tokens_total`) whose labels include `labels`."""
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise KeyError(name)

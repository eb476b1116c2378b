"""Start a real `vllm-sim` process on a free 127.0.0.1 port and wait until it serves.

Used by the tests that need a running server: the simulator's own API/CLI/shutdown tests, and the chart tests
that run the simulator with the exact arguments the chart renders into a pod.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SIM = [sys.executable, "-m", "vllm_sim"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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


def launch(
    args: Sequence[str],
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    wait: bool = True,
    timeout: float = 15.0,
) -> SimProcess:
    """`vllm serve ARGS` (model first, as a pod's args), on 127.0.0.1 and a free port: a `--port` in ARGS is
    replaced, otherwise one is added. `env` is laid over this process's environment."""
    port = free_port()
    args = list(args)
    if "--port" in args:
        args[args.index("--port") + 1] = str(port)
    else:
        args += ["--port", str(port)]
    log = log_dir / f"sim-{port}.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [*SIM, "serve", *args, "--host", "127.0.0.1"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            text=True,
        )
    sim = SimProcess(proc, port, log)
    if wait:
        sim.wait_ready(timeout)
    return sim

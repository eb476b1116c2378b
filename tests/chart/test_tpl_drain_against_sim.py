"""The drain the chart renders works on a real server: the spot pool's rendered vLLM args, run by the
simulator, finish an in-flight stream after SIGTERM while refusing new requests, and exit inside the rendered
grace period. Without the shutdown timeout (the recipe's setup) the same SIGTERM aborts the stream."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chart_harness.render import ROOT, render_chart
from vllm_sim.launch import launch

MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
STEP_SECONDS = 0.05  # per engine step: a 40-token stream lasts about 2 s
TOKENS = 40


def _spot_pod(values: dict[str, Any]) -> dict[str, Any]:
    rendered = render_chart(values, values_files=[ROOT / "values" / "local-sim.yaml"])
    return rendered.get("Deployment", "test-vllm-inference-spot")["spec"]["template"]["spec"]


def _post(base: str, path: str, body: dict[str, Any]) -> urllib.request.Request:
    data = json.dumps(body).encode()
    return urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})


@contextmanager
def _simulator(args: list[str], log_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {"VLLM_SIM_LOAD_SECONDS": "0", "VLLM_SIM_CONTROL": "1", "VLLM_SIM_GPU": "L4", "VLLM_API_KEY": ""}
    sim = launch(args, log_dir, env=env, timeout=30)
    try:
        urllib.request.urlopen(_post(sim.url, "/sim/latency", {"step_seconds": STEP_SECONDS}), timeout=5)
        yield sim.proc, sim.url
    finally:
        if sim.proc.poll() is None:
            sim.proc.kill()
        sim.proc.wait(timeout=10)


def _stream_across_sigterm(
    proc: subprocess.Popen[str], base: str
) -> tuple[int, str | None, int | None, float]:
    """Start a stream and SIGTERM the server after its first chunk.

    Returns (content chunks, last finish_reason, a new request's status during the drain, seconds to exit).
    """
    body = {"model": MODEL, "stream": True, "max_tokens": TOKENS, "ignore_eos": True,
            "messages": [{"role": "user", "content": "count"}]}  # fmt: skip
    stream = urllib.request.urlopen(_post(base, "/v1/chat/completions", body), timeout=30)
    chunks, finish, status = 0, None, None
    try:
        for raw in stream:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            if line == "data: [DONE]":
                break
            choice = json.loads(line[5:])["choices"][0]
            finish = choice.get("finish_reason") or finish
            chunks += bool(choice.get("delta", {}).get("content"))
            if chunks == 1:
                terminated_at = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                time.sleep(0.3)
                try:
                    urllib.request.urlopen(
                        _post(base, "/v1/completions", {"model": MODEL, "prompt": "x"}), timeout=5
                    )
                    status = 200
                except urllib.error.HTTPError as err:
                    status = err.code
                except OSError:
                    status = 0  # connection refused: the listener is closed
    except OSError:
        pass  # the connection was cut: the stream is incomplete
    proc.wait(timeout=30)
    return chunks, finish, status, time.monotonic() - terminated_at


def test_spot_pool_drains_an_in_flight_stream_within_its_rendered_grace_period(tmp_path: Path) -> None:
    pod = _spot_pod({})
    container = pod["containers"][0]
    shutdown = int(container["args"][container["args"].index("--shutdown-timeout") + 1])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    with _simulator(container["args"], tmp_path) as (proc, base):
        chunks, finish, status, exit_after = _stream_across_sigterm(proc, base)
    # finish_reason "length": every one of the max_tokens was generated after SIGTERM arrived.
    assert finish == "length" and chunks > 1, f"stream ended {finish!r} after {chunks} chunks"
    assert status in (0, 503), f"a new request during the drain got {status}"
    assert proc.returncode == 0
    assert exit_after <= shutdown + 1
    assert pre_stop + exit_after <= pod["terminationGracePeriodSeconds"]


def test_without_a_shutdown_timeout_sigterm_cuts_the_stream(tmp_path: Path) -> None:
    pod = _spot_pod({"pools": {"spot": {"drain": {"shutdownTimeoutSeconds": 0}}}})
    args = pod["containers"][0]["args"]
    assert "--shutdown-timeout" not in args
    with _simulator(args, tmp_path) as (proc, base):
        chunks, finish, _, _ = _stream_across_sigterm(proc, base)
    assert finish != "length" and chunks < TOKENS

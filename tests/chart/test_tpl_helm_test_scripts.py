"""The `helm test` pods' scripts, as rendered, pass against the real simulator serving the flags the chart
renders (local-sim preset), with the API key from the same value; without the key they fail."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from chart_harness.render import ROOT, Rendered, render_chart

API_KEY = "helm-test-key"
SIM = Path(sys.executable).with_name("vllm-sim")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    values = {"auth": {"enabled": True, "apiKey": API_KEY}}
    return render_chart(values, values_files=[ROOT / "values" / "local-sim.yaml"])


@pytest.fixture(scope="module")
def server(rendered: Rendered) -> Iterator[str]:
    """vllm-sim started with the on-demand pool's rendered args (port swapped for a free one)."""
    deployment = rendered.get("Deployment", "test-vllm-inference-on-demand")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = _free_port()
    args = list(container["args"])
    args[args.index("--port") + 1] = str(port)
    env = {**os.environ, "VLLM_SIM_GPU": "L4", "VLLM_SIM_LOAD_SECONDS": "0", "VLLM_API_KEY": API_KEY}
    proc = subprocess.Popen(
        [str(SIM), "serve", *args, "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, (
                    f"simulator exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
                assert time.monotonic() < deadline, "simulator did not become healthy in 30 s"
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _run_test_pod(
    rendered: Rendered, name: str, base: str, api_key: str | None
) -> subprocess.CompletedProcess[str]:
    pod = rendered.get("Pod", f"test-vllm-inference-test-{name}")
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value", "") for e in container["env"] if "value" in e}
    env["BASE_URL"] = base
    if api_key is not None:
        env["VLLM_API_KEY"] = api_key
    command = container["command"]
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("name", ["models", "completion", "chat-stream"])
def test_rendered_helm_test_passes_against_the_simulator(rendered: Rendered, server: str, name: str) -> None:
    run = _run_test_pod(rendered, name, server, API_KEY)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()


def test_rendered_helm_test_fails_without_the_api_key(rendered: Rendered, server: str) -> None:
    run = _run_test_pod(rendered, "models", server, None)
    assert run.returncode != 0
    assert "401" in run.stderr

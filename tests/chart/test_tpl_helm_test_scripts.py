"""The `helm test` pods' scripts, as rendered, pass against the real simulator serving the flags the chart
renders (local-sim preset), with the API key from the same value; without the key they fail."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from chart_harness.render import ROOT, Rendered, render_chart
from vllm_sim.launch import launch

API_KEY = "helm-test-key"


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    values = {"auth": {"enabled": True, "apiKey": API_KEY}}
    return render_chart(values, values_files=[ROOT / "values" / "local-sim.yaml"])


@pytest.fixture(scope="module")
def server(rendered: Rendered, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vllm-sim started with the on-demand pool's rendered args (port swapped for a free one)."""
    deployment = rendered.get("Deployment", "test-vllm-inference-on-demand")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {"VLLM_SIM_GPU": "L4", "VLLM_SIM_LOAD_SECONDS": "0", "VLLM_API_KEY": API_KEY}
    sim = launch(container["args"], tmp_path_factory.mktemp("sim"), env=env, timeout=30)
    try:
        yield sim.url
    finally:
        sim.stop()


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

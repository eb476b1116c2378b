"""`vllm-plan capacity` against a real `vllm-sim` whose replica saturates on its KV cache: the autoscaling
bench's deployment (benchmarks/autoscaling-deployment.yaml: 64 blocks by --num-gpu-blocks-override, which
the chart passes in vllm.extraArgs), here at VLLM_SIM_TIME_SCALE 0.5 with short steps. The cache usage
rises with the load, so a KV threshold is derived (above KEDA's resolution, below a full cache), and the
replay beside it (--predict L4, the block count read from the same values file) fills the same small cache."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from vllm_plan.cli import main
from vllm_plan.thresholds import KEDA_RESOLUTION
from vllm_sim.launch import launch

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = ROOT / "benchmarks" / "autoscaling-deployment.yaml"
LOCAL_SIM = ROOT / "values" / "local-sim.yaml"
CHART = ROOT / "charts" / "vllm-inference"
MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
TIME_SCALE = 0.5


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    values = yaml.safe_load(DEPLOYMENT.read_text())
    args = [MODEL, "--max-model-len", str(values["model"]["maxModelLen"]), *values["vllm"]["extraArgs"]]
    sim = launch(
        args, tmp_path_factory.mktemp("sim"), env={"VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": "0.5"}
    )
    try:
        argv = [
            "capacity", "--url", sim.url, "--model", MODEL, "--api", "chat", "--time-scale", str(TIME_SCALE),
            "--input-tokens", "16", "--output-tokens", "128", "--ttft-slo", "0.5", "--itl-slo", "0.2",
            "--percentile", "90", "--start", "3", "--refine", "1", "--step-seconds", "4",
            "--step-requests", "100", "--predict", "L4",
            "--chart", str(CHART), "--values", str(LOCAL_SIM), "--values", str(DEPLOYMENT),
            "--out", str(tmp_path_factory.mktemp("capacity")), "--json",
        ]  # fmt: skip
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
    finally:
        sim.stop()
    assert code == 0, stderr.getvalue()
    parsed: dict[str, Any] = json.loads(stdout.getvalue())
    return parsed


def test_a_replica_bound_by_its_cache_derives_a_kv_threshold_keda_can_act_on(
    document: dict[str, Any],
) -> None:
    derived = document["derived"]
    threshold = derived["kv_cache_usage_threshold"]
    assert threshold is not None and KEDA_RESOLUTION <= threshold < 0.95, derived
    assert document["values"]["autoscaling"]["triggers"]["kvCacheUsage"] == {
        "enabled": True,
        "threshold": threshold,
    }
    steps = sorted(document["measured"]["steps"], key=lambda s: s["load"])
    assert steps[-1]["mean_kv_usage"] > 0.5  # the cache fills as the load rises


def test_the_replay_reads_the_block_count_from_the_values_files(document: dict[str, Any]) -> None:
    """Without the 64-block override the replay would run on ~1.6 M tokens of cache and stay below 1 %."""
    predicted = sorted(document["predicted"]["steps"], key=lambda s: s["load"])
    assert predicted[-1]["mean_kv_usage"] > 0.5


def test_the_replay_takes_the_prompts_at_the_length_the_server_counted(document: dict[str, Any]) -> None:
    """The chat template adds tokens (the simulator's ChatML: 29 for 16 words), and in a 64-block cache each
    request's blocks bound the batch: the replay takes the server's count, not the mix's 16."""
    served = document["requests"]["served_input_tokens"]
    assert served > document["requests"]["mean_input_tokens"] == 16
    assert {round(s["prompt_tokens"]) for s in document["measured"]["steps"]} == {served}
    assert {s["prompt_tokens"] for s in document["predicted"]["steps"]} == {served}

"""`vllm-plan capacity` against a real `vllm-sim` process on 127.0.0.1 (no cluster), a replica bound by its
batch, not its cache (Qwen2.5-0.5B on a simulated L4, 8 sequences, as the autoscaling bench's faults run it;
tests/plan/test_capacity_kv_bound.py has the bench's cache-bound one), streamed chat of 128 tokens, TTFT SLO
2 s; here at p90: a p99 of a few dozen requests is one CPU stall of a loaded machine) at
VLLM_SIM_TIME_SCALE 0.5, with the same ramp replayed beside it (--predict L4): one command writes the
report, the PNG and the snippet; the knee holds the SLO and a higher load misses it; the figures come from
the server's own /metrics; the time scale is read back into the model's time."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chart_harness.render import render_chart
from vllm_plan.capacity_run import CapacitySpec, derive_chart_values
from vllm_plan.cli import main
from vllm_plan.endpoint import Endpoint
from vllm_plan.request_mix import mix_from_lengths
from vllm_plan.thresholds import values
from vllm_plan.traffic import Slo
from vllm_sim.launch import SimProcess, launch

MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
MAX_NUM_SEQS = 8
TIME_SCALE = 0.5
TTFT_SLO_S = 2.0
LOCAL_SIM = Path(__file__).resolve().parents[2] / "values" / "local-sim.yaml"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    env = {"VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": str(TIME_SCALE)}
    args = [MODEL, "--max-model-len", "4096", "--max-num-seqs", str(MAX_NUM_SEQS)]
    process = launch(args, tmp_path_factory.mktemp("sim"), env=env)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def measured(sim: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("capacity")
    argv = [
        "capacity", "--url", sim.url, "--model", MODEL, "--api", "chat", "--time-scale", str(TIME_SCALE),
        "--input-tokens", "16", "--output-tokens", "128", "--ttft-slo", str(TTFT_SLO_S), "--itl-slo", "0.2",
        "--percentile", "90",
        "--start", "2", "--refine", "1", "--step-seconds", "4", "--step-requests", "100", "--peak-rps", "30",
        "--predict", "L4", "--max-model-len", "4096", "--max-num-seqs", str(MAX_NUM_SEQS),
        "--out", str(out), "--json",
    ]  # fmt: skip
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    assert code == 0, stderr.getvalue()
    return out, json.loads(stdout.getvalue()), stderr.getvalue()


def test_one_command_writes_the_report_the_png_and_the_snippet(measured: tuple[Path, dict, str]) -> None:
    out, document, progress = measured
    assert sorted(p.name for p in out.iterdir()) == [
        "capacity.json", "capacity.png", "capacity.txt", "values-snippet.yaml",
    ]  # fmt: skip
    assert (out / "capacity.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((out / "capacity.json").read_text()) == document
    steps = document["measured"]["steps"]
    # A progress line per step of each ramp.
    assert progress.count("[capacity] measured step") == len(steps)
    assert progress.count("[capacity] predicted step") == len(document["predicted"]["steps"])
    assert document["derived_from"] == "measured"


def test_the_knee_holds_the_slo_and_a_higher_load_misses_it(measured: tuple[Path, dict, str]) -> None:
    _, document, _ = measured
    knee, steps = document["measured"]["knee"], document["measured"]["steps"]
    assert knee["ttft_s"] <= TTFT_SLO_S and knee["failed"] == 0
    assert any(s["missed"] and s["load"] > knee["load"] for s in steps)
    assert all(not s["missed"] for s in steps if s["load"] < knee["load"])


def test_the_gauges_are_the_servers_own(measured: tuple[Path, dict, str]) -> None:
    """Running, waiting and KV usage read from vLLM's metric names; running never above max-num-seqs,
    and a busier step runs a bigger batch on more of the KV cache."""
    _, document, _ = measured
    assert document["kv_cache_metric"] == "vllm:kv_cache_usage_perc"
    steps = sorted(document["measured"]["steps"], key=lambda s: s["load"])
    assert all(s["max_running"] <= MAX_NUM_SEQS for s in steps)
    assert steps[0]["mean_running"] < steps[-1]["mean_running"]
    assert 0 < steps[0]["mean_kv_usage"] < steps[-1]["mean_kv_usage"] < 1
    assert all(s["mean_waiting"] <= s["max_waiting"] and s["mean_running"] <= s["max_running"] for s in steps)
    assert all(s["prompt_tokens"] and s["prompt_tokens"] >= 16 for s in steps)  # the chat template adds


def test_the_time_scale_is_read_back_into_the_models_time(measured: tuple[Path, dict, str]) -> None:
    """At VLLM_SIM_TIME_SCALE 0.5 the simulator runs twice as fast; read back, the measured knee is near the
    replayed one's (a time scale misapplied would put them a factor of 2 or 4 apart; the margin is for the
    simulator's own CPU time on a loaded machine, which slows the measured side)."""
    _, document, _ = measured
    measured_knee = document["measured"]["knee"]["arrived_per_s"]
    predicted_knee = document["predicted"]["knee"]["arrived_per_s"]
    assert 0.6 < measured_knee / predicted_knee < 1.5


def test_the_measured_snippet_installs_over_the_local_preset(measured: tuple[Path, dict, str]) -> None:
    out, document, _ = measured
    rendered = render_chart(values_files=[LOCAL_SIM, out / "values-snippet.yaml"])
    for deployment in rendered.of_kind("Deployment"):
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--max-num-seqs") + 1] == str(document["values"]["vllm"]["maxNumSeqs"])
    assert len(rendered.of_kind("ScaledObject")) == 2


def test_the_derived_values_come_from_python_as_the_bench_takes_them(sim: SimProcess) -> None:
    """derive_chart_values: the values tree of the snippet, from a short ramp of the same replica."""
    spec = CapacitySpec(
        slo=Slo(TTFT_SLO_S, 0.2),
        mix=mix_from_lengths(16, 64, distinct=64),
        target=Endpoint(sim.url, f"{sim.url}/metrics", MODEL, api="chat", time_scale=TIME_SCALE),
        start=4.0,
        factor=4.0,
        refine=0,
        step_requests=60,
        step_seconds=3.0,
        progress=False,
    )
    chart_values, run = derive_chart_values(spec)
    assert run.derived is not None and run.measured is not None and run.predicted is None
    assert chart_values == values(run.derived)
    triggers = chart_values["autoscaling"]["triggers"]
    # A 0.5B model on an L4 at 8 sequences uses a few 0.01 % of its KV cache: below KEDA's 3-decimal
    # resolution (a threshold it would make 0, and the pool would never scale), so the KV trigger is off and
    # the queue's scales it (the "derived" configuration that never scaled in an earlier bench).
    assert run.derived.kv_cache_usage_at_target < 0.0005, run.derived
    assert triggers["kvCacheUsage"] == {"enabled": False} and triggers["requestsWaiting"]["threshold"] >= 1
    assert 1 <= chart_values["vllm"]["maxNumSeqs"] <= MAX_NUM_SEQS

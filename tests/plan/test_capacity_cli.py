"""`vllm-plan capacity` without a server: bad flags and inputs named, the prediction-only report, and its
values snippet merged over every preset rendering with the chart (helm template, which checks the schema)
with the derived thresholds in the ScaledObjects."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import yaml
from plan_paths import SERVING_PRESETS

from chart_harness.render import render_chart
from vllm_plan.cli import main
from vllm_plan.traffic import example_traffic_path
from vllm_sim.launch import free_port

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SLO = ["--ttft-slo", "0.5", "--itl-slo", "0.05"]
QWEN_L4 = ["--model", "Qwen/Qwen2.5-0.5B-Instruct", "--max-model-len", "4096", "--max-num-seqs", "64"]


@pytest.mark.parametrize(
    "flags, named",
    [
        (SLO, "--url (a server to measure) or --predict GPU"),
        (["--predict", "L4", *QWEN_L4], "--ttft-slo and --itl-slo required"),
        (["--predict", "L4", *QWEN_L4, *SLO, "--ramp", "concurrency"], "--predict replays open-loop"),
        (["--predict", "L4", *QWEN_L4, *SLO, "--time-scale", "0.5"], "--time-scale reads a measured"),
        (["--url", "http://127.0.0.1:9", *SLO, "--percentile", "95"], "--percentile: invalid choice"),
        (
            ["--url", "http://127.0.0.1:9", *SLO, "--step-factor", "1"],
            "--step-factor: must be a number above",
        ),
        (["--url", "http://127.0.0.1:9", *SLO, "--workload", "w.yaml", "--prompts", "p.jsonl"], "--workload"),
        (["--url", "http://127.0.0.1:9", *SLO, "--prompts", "p.jsonl", "--input-tokens", "5"], "give one"),
        (["--predict", "Z80", *QWEN_L4, *SLO], "--gpu"),
    ],
)
def test_a_bad_flag_is_refused_naming_it(plan, flags: list[str], named: str) -> None:
    run = plan("capacity", *flags)
    assert run.code == 2
    assert named in run.err


@pytest.mark.parametrize(
    "line, named",
    [
        ("not json", ":2: not JSON"),
        ('{"text": "hi"}', ":2: `prompt` must be a non-empty string"),
        ('{"prompt": "hi", "max_tokens": 0}', ":2: `max_tokens` must be an integer >= 1"),
        ('{"prompt": "hi", "temperature": 0}', ":2: `temperature`: unknown key"),
    ],
)
def test_a_bad_prompts_line_is_refused_naming_the_file_line_and_key(
    plan, tmp_path: Path, line: str, named: str
) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "a fine first line"}\n' + line + "\n")
    run = plan("capacity", "--predict", "L4", *QWEN_L4, *SLO, "--prompts", str(prompts))
    assert run.code == 2
    assert f"--prompts {prompts}{named}" in run.err


def test_a_bad_workload_is_refused_naming_its_key(plan, tmp_path: Path) -> None:
    workload = tmp_path / "w.yaml"
    workload.write_text("stages: [{rate: 1, duration: 1}]\nprompts: {groups: 0}\n")
    run = plan("capacity", "--predict", "L4", *QWEN_L4, *SLO, "--workload", str(workload))
    assert run.code == 2 and "prompts.groups" in run.err


def test_a_deployment_that_does_not_fit_is_reported_as_the_fit_check_does(plan) -> None:
    run = plan("capacity", "--predict", "T4", "--model", "mistralai/Mistral-7B-Instruct-v0.2", *SLO)
    assert run.code == 1 and "DOES NOT FIT" in run.out


def _predict(out: Path, *flags: str) -> dict:
    """A prediction-only run, its report written under `out`; its JSON."""
    buffer, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(errors):
        code = main(["capacity", *flags, *SLO, "--out", str(out), "--json"])
    assert code == 0, errors.getvalue()
    return json.loads(buffer.getvalue())


@pytest.fixture(scope="module")
def predicted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One prediction-only run (Qwen2.5-0.5B on an L4), its report written and its JSON printed."""
    out = tmp_path_factory.mktemp("capacity")
    return out, _predict(out, "--predict", "L4", *QWEN_L4, "--peak-rps", "100")


# Qwen2.5-0.5B on an H200 with 16-token prompts: about 0.01 % of its KV cache at the knee, below KEDA's
# 3-decimal resolution (the autoscaling bench's 0.5B model on an L4 used 0.04 %)
TINY_KV = ["--predict", "H200", *QWEN_L4, "--input-tokens", "16", "--output-tokens", "4"]


@pytest.fixture(scope="module")
def predicted_tiny_kv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("capacity-tiny-kv")
    return out, _predict(out, *TINY_KV)


def test_a_prediction_writes_the_report_the_png_and_the_snippet(predicted: tuple[Path, dict]) -> None:
    out, document = predicted
    assert sorted(p.name for p in out.iterdir()) == [
        "capacity.json", "capacity.png", "capacity.txt", "values-snippet.yaml",
    ]  # fmt: skip
    assert (out / "capacity.png").read_bytes().startswith(PNG_MAGIC)
    assert document == json.loads((out / "capacity.json").read_text())
    assert document["measured"] is None and document["derived_from"] == "predicted"
    knee = document["predicted"]["knee"]
    assert knee["ttft_s"] <= 0.5 and knee["itl_s"] <= 0.05
    steps = document["predicted"]["steps"]
    assert any(s["missed"] and s["load"] > knee["load"] for s in steps)
    text = (out / "capacity.txt").read_text()
    assert "predicted: knee at" in text and "autoscaling.triggers.kvCacheUsage.threshold" in text


def test_the_derived_values_are_the_knees_in_the_charts_keys_and_units(predicted: tuple[Path, dict]) -> None:
    _, document = predicted
    derived, knee = document["derived"], document["predicted"]["knee"]
    values = document["values"]
    assert (
        0 < derived["kv_cache_usage_threshold"] <= knee["mean_kv_usage"] <= 1
    )  # a fraction, below the knee's
    assert (
        values["autoscaling"]["triggers"]["kvCacheUsage"]["threshold"] == derived["kv_cache_usage_threshold"]
    )
    assert values["autoscaling"]["triggers"]["requestsWaiting"]["threshold"] >= 1
    assert values["vllm"]["maxNumSeqs"] == knee["max_running"] <= 64
    assert values["autoscaling"]["maxReplicas"] == derived["max_replicas"] >= 100 / knee["arrived_per_s"]


def test_a_kv_usage_below_kedas_resolution_derives_the_kv_trigger_off_and_says_why(
    predicted_tiny_kv: tuple[Path, dict],
) -> None:
    out, document = predicted_tiny_kv
    derived = document["derived"]
    assert derived["kv_cache_usage_at_target"] < 0.0005  # rounds to 0 at 3 decimals
    assert derived["kv_cache_usage_threshold"] is None
    assert document["values"]["autoscaling"]["triggers"]["kvCacheUsage"] == {"enabled": False}
    assert document["values"]["autoscaling"]["triggers"]["requestsWaiting"]["threshold"] >= 1
    assert (
        document["comparison"][0]["name"] == "derived" and document["comparison"][0]["kv_cache_usage"] is None
    )
    why = "below KEDA's 0.001 resolution, so the cache is not what saturates this replica"
    said = [line for line in (out / "capacity.txt").read_text().splitlines() if why in line]
    assert len(said) == 1 and said[0].startswith("  autoscaling.triggers.kvCacheUsage.enabled       false  (")
    header = [line for line in (out / "values-snippet.yaml").read_text().splitlines() if line.startswith("#")]
    assert sum(why in line for line in header) == 1


@pytest.mark.parametrize("preset", SERVING_PRESETS, ids=[p.stem for p in SERVING_PRESETS])
@pytest.mark.parametrize("run", ["predicted", "predicted_tiny_kv"])
def test_the_snippet_merged_over_a_preset_renders_with_the_derived_thresholds(
    request: pytest.FixtureRequest, run: str, preset: Path
) -> None:
    """Both snippets: with the derived KV threshold, and with the KV trigger off (only the queue's)."""
    out, document = request.getfixturevalue(run)
    rendered = render_chart(values_files=[preset, out / "values-snippet.yaml"])
    scaled = rendered.of_kind("ScaledObject")
    assert scaled, "KEDA mode renders a ScaledObject per pool"
    metric = {"vllm:kv_cache_usage_perc": "kv", "vllm:num_requests_waiting": "waiting"}
    thresholds = {
        name: float(t["metadata"]["threshold"])
        for obj in scaled
        for t in obj["spec"]["triggers"]
        for series, name in metric.items()
        if series in t["metadata"].get("query", "")
    }
    derived = document["derived"]
    kv = derived["kv_cache_usage_threshold"]
    assert thresholds == {
        "waiting": derived["requests_waiting_threshold"],
        **({} if kv is None else {"kv": kv}),
    }
    assert all(  # KEDA reads thresholds to 3 decimals: none finer, none that it would round to 0
        float(t["metadata"]["threshold"]) >= 0.001 for obj in scaled for t in obj["spec"]["triggers"]
    )
    deployments = rendered.of_kind("Deployment")
    for deployment in deployments:
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--max-num-seqs") + 1] == str(derived["max_num_seqs"])


def test_a_traffic_profile_gives_the_slo_and_the_peak(plan, tmp_path: Path) -> None:
    traffic = yaml.safe_load(example_traffic_path().read_text())
    run = plan("capacity", "--predict", "L4", *QWEN_L4, "--traffic", str(example_traffic_path()),
               "--out", str(tmp_path), "--json")  # fmt: skip
    assert run.code == 0, run.err
    document = run.json()
    assert document["slo"]["time_to_first_token_s"] == traffic["slo"]["time_to_first_token_seconds"]
    assert document["derived"]["peak_requests_per_s"] == max(traffic["requests_per_second"])
    assert document["derived"]["target_utilization"] == traffic["target_utilization"]


def test_a_target_whose_metrics_cannot_be_read_fails_naming_the_flag(plan, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run = plan("capacity", "--url", url, *SLO, "--out", str(tmp_path))
    assert run.code == 1
    assert f"--metrics-url {url}/metrics: cannot read it" in run.err


MISTRAL_L4 = ["--model", "mistralai/Mistral-7B-Instruct-v0.2", "--max-model-len", "4096"]
LENGTHS = ["--input-tokens", "256", "--output-tokens", "64", "--ttft-slo", "1", "--itl-slo", "0.08"]


def test_copied_thresholds_never_fire_where_the_derived_ones_scale_before_the_slo_breaks(
    plan, tmp_path: Path
) -> None:
    """Mistral-7B on an L4 at vLLM's default max-num-seqs: the batch takes every request (no queue) and
    its ITL breaks the SLO at a fifth of the KV cache, so the chart's defaults (0.7, 4), a queue-only peer
    (5) and the recipe's "70" never ask for a second replica; the derived thresholds do, at the knee."""
    run = plan(
        "capacity", "--predict", "L4", *MISTRAL_L4, *LENGTHS, "--out", str(tmp_path), "--json",
        "--compare", "chart=0.7,4", "--compare", "peer=-,5", "--compare", "recipe=70,-",
    )  # fmt: skip
    assert run.code == 0, run.err
    document = run.json()
    verdicts = {c["name"]: c for c in document["comparison"]}
    knee = document["predicted"]["knee"]
    assert verdicts["derived"]["scale_out_load"] is not None
    assert verdicts["derived"]["scale_out_load"] <= knee["load"]
    for name in ("chart", "peer", "recipe"):
        assert verdicts[name]["scale_out_load"] is None, verdicts[name]
    assert "never asks for a second replica" in (tmp_path / "capacity.txt").read_text()


@pytest.mark.parametrize("bad", ["chart", "chart=0.7", "chart=0,4", "=0.7,4", "chart=x,4"])
def test_a_bad_compare_is_refused_naming_the_flag(plan, bad: str) -> None:
    run = plan("capacity", "--predict", "L4", *QWEN_L4, *SLO, "--compare", bad)
    assert run.code == 2 and "--compare" in run.err

"""`vllm-plan cost`: the whole report from the example inputs, its arithmetic, reclaims, SLOs and the PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from plan_paths import CHART_ARGS, CHART_VALUES, ROOT

from vllm_plan.cost import DAYS_PER_MONTH
from vllm_plan.traffic import example_traffic_path

AWQ_T4 = ["--model", "TheBloke/Mistral-7B-Instruct-v0.2-AWQ", "--gpu", "T4", "--max-model-len", "4096"]
AWQ_T4 += ["--dtype", "half"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _traffic(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(example_traffic_path().read_text())
    for key, value in changes.items():
        if key.startswith("slo."):
            data["slo"][key[4:]] = value
        else:
            data[key] = value
    path = tmp_path / "traffic.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_one_command_writes_the_whole_report(plan, tmp_path: Path) -> None:
    out = tmp_path / "report"
    run = plan("cost", "--cloud", "aws", *AWQ_T4, "--out-dir", str(out))
    assert run.code == 0, run.err
    assert sorted(p.name for p in out.iterdir()) == [
        "cost.json", "cost.png", "cost.txt", "fit.txt", "values-snippet.yaml",
    ]  # fmt: skip
    png = (out / "cost.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    assert "on-demand (0% spot)" in run.out and "70/30 (70% spot)" in run.out


def test_png_flag_writes_a_non_empty_png(plan, tmp_path: Path) -> None:
    png = tmp_path / "chart.png"
    assert plan("cost", "--cloud", "gcp", *AWQ_T4, "--png", str(png)).code == 0
    assert png.read_bytes().startswith(PNG_MAGIC)


def test_monthly_cost_is_the_sum_of_hourly_replicas_times_prices(plan) -> None:
    report = plan("cost", "--cloud", "aws", *AWQ_T4, "--json").json()
    price = report["price"]
    for scenario in report["scenarios"]:
        daily = sum(
            h["on_demand"] * price["on_demand"] + h["spot"] * price["spot"] for h in scenario["hourly"]
        )
        assert scenario["monthly_cost_usd"] == pytest.approx(daily * DAYS_PER_MONTH, abs=0.01)
    names = [s["name"] for s in report["scenarios"]]
    assert names == ["on-demand", "70/30", "your mix"]
    on_demand, seventy_thirty, _ = report["scenarios"]
    assert seventy_thirty["monthly_cost_usd"] < on_demand["monthly_cost_usd"]
    assert seventy_thirty["savings_vs_on_demand"] > 0


def test_replicas_follow_the_traffic_and_cover_it(plan) -> None:
    report = plan("cost", "--cloud", "aws", *AWQ_T4, "--json").json()
    per_replica = report["replica"]["planned_requests_per_second"]
    hours = report["hours"]
    for hour in hours:
        assert hour["replicas"] * per_replica >= hour["requests_per_second"] - 1e-9
        assert hour["replicas"] >= report["traffic"]["min_replicas"]
    peak = max(hours, key=lambda h: h["requests_per_second"])
    quiet = min(hours, key=lambda h: h["requests_per_second"])
    assert peak["replicas"] > quiet["replicas"]


def test_user_mix_is_planned_as_given(plan) -> None:
    report = plan("cost", "--cloud", "aws", *AWQ_T4, "--mix", "0.9", "--json").json()
    mine = report["scenarios"][2]
    assert mine["spot_fraction"] == 0.9
    for split in mine["hourly"]:
        assert split["on_demand"] >= 1  # the rounded-up on-demand share of any non-zero load


def test_a_higher_reclaim_rate_lowers_spot_capacity_and_adds_spot_replicas(plan) -> None:
    calm = plan("cost", "--cloud", "aws", *AWQ_T4, "--spot-reclaim-rate", "0", "--json").json()
    stormy = plan("cost", "--cloud", "aws", *AWQ_T4, "--spot-reclaim-rate", "3", "--json").json()
    assert calm["spot_reclaim"]["spot_capacity_factor"] == 1.0
    assert stormy["spot_reclaim"]["spot_capacity_factor"] == pytest.approx(0.5)  # 3/h x 10 min
    calm_mix, stormy_mix = calm["scenarios"][1], stormy["scenarios"][1]
    assert calm_mix["extra_spot_replica_hours_per_day"] == 0
    assert stormy_mix["extra_spot_replica_hours_per_day"] > 0
    assert stormy_mix["monthly_cost_usd"] > calm_mix["monthly_cost_usd"]


def test_a_tighter_inter_token_slo_lowers_what_a_replica_sustains(plan, tmp_path: Path) -> None:
    loose = plan("cost", "--cloud", "aws", *AWQ_T4, "--json").json()["replica"]
    tight_file = _traffic(tmp_path, **{"slo.inter_token_latency_seconds": 0.05})
    tight = plan("cost", "--cloud", "aws", *AWQ_T4, "--traffic", str(tight_file), "--json").json()["replica"]
    assert tight["inter_token_latency_s"] <= 0.05 < loose["inter_token_latency_s"]
    assert tight["requests_per_second"] < loose["requests_per_second"]
    assert tight["limited_by"] == "p99 inter-token latency SLO"


def test_a_median_slo_lets_a_replica_sustain_more_than_a_p99_one(plan, tmp_path: Path) -> None:
    p99 = plan("cost", "--cloud", "aws", *AWQ_T4, "--json").json()["replica"]
    median_file = _traffic(tmp_path, **{"slo.percentile": 50})
    p50 = plan("cost", "--cloud", "aws", *AWQ_T4, "--traffic", str(median_file), "--json").json()["replica"]
    assert (p99["percentile"], p50["percentile"]) == (99, 50)
    assert p50["requests_per_second"] > p99["requests_per_second"]


def test_an_unreachable_slo_is_refused_naming_it(plan, tmp_path: Path) -> None:
    path = _traffic(tmp_path, **{"slo.inter_token_latency_seconds": 0.001})
    run = plan("cost", "--cloud", "aws", *AWQ_T4, "--traffic", str(path))
    assert run.code == 2
    assert "slo" in run.err and "inter-token latency SLO" in run.err


def test_a_deployment_that_does_not_fit_gets_no_cost_plan(plan) -> None:
    run = plan("cost", "--cloud", "aws", "--model", "mistralai/Mistral-7B-Instruct-v0.2", "--gpu", "T4",
               "--max-model-len", "4096", "--dtype", "float16")  # fmt: skip
    assert run.code == 1
    assert "DOES NOT FIT" in run.out


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"requests_per_second": [1.0] * 23}, "requests_per_second"),
        ({"mean_output_tokens": 0}, "mean_output_tokens"),
        ({"target_utilization": 1.5}, "target_utilization"),
        ({"slo.percentile": 95}, "percentile"),
    ],
)
def test_bad_traffic_profile_is_refused_naming_the_key(
    plan, tmp_path: Path, change: dict, named: str
) -> None:
    run = plan("cost", "--cloud", "aws", *AWQ_T4, "--traffic", str(_traffic(tmp_path, **change)))
    assert run.code == 2
    assert f"`{named}`" in run.err


def test_a_cloud_without_the_gpu_is_refused_naming_the_price_key(plan) -> None:
    run = plan("cost", "--cloud", "azure", "--model", "Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "L4")
    assert run.code == 2
    assert "gpus.L4.azure is null" in run.err


def test_cost_values_snippet_bounds_each_pool_by_the_plan_with_the_charts_keys(plan) -> None:
    snippet = yaml.safe_load(plan("cost", "--cloud", "aws", *AWQ_T4, "--mix", "0.6", "--values-snippet").out)
    hourly = plan("cost", "--cloud", "aws", *AWQ_T4, "--mix", "0.6", "--json").json()["scenarios"][2][
        "hourly"
    ]
    pools = snippet["pools"]
    assert snippet["autoscaling"]["spotShare"] == 0.6
    assert snippet["autoscaling"]["maxReplicas"] == max(h["on_demand"] + h["spot"] for h in hourly)
    assert pools["onDemand"]["maxReplicas"] == max(h["on_demand"] for h in hourly)
    assert pools["spot"]["maxReplicas"] == max(h["spot"] for h in hourly)
    assert pools["spot"]["minReplicas"] == min(h["spot"] for h in hourly)
    assert pools["spot"]["enabled"] is True
    chart = yaml.safe_load(CHART_VALUES.read_text())
    for pool in ("onDemand", "spot"):
        assert set(pools[pool]) <= set(chart["pools"][pool])
    assert set(snippet["autoscaling"]) <= set(chart["autoscaling"])


def test_unknown_and_out_of_range_cost_flags_exit_2(plan) -> None:
    assert plan("cost", "--cloud", "aws", *AWQ_T4, "--spot-share", "0.7").code == 2
    run = plan("cost", "--cloud", "aws", *AWQ_T4, "--mix", "1.7")
    assert run.code == 2 and "argument --mix" in run.err
    run = plan("cost", "--cloud", "oracle", *AWQ_T4)
    assert run.code == 2 and "argument --cloud" in run.err


def test_json_output_is_one_object(plan) -> None:
    assert isinstance(json.loads(plan("cost", "--cloud", "gcp", *AWQ_T4, "--json").out), dict)


def test_an_embedding_preset_is_planned_on_prompts_alone(plan, tmp_path: Path) -> None:
    preset = str(ROOT / "values" / "spot-batch-embeddings.yaml")
    too_long = plan(
        "cost", "--cloud", "gcp", *CHART_ARGS, "--values", preset
    )  # the example's 1024-token prompts
    assert too_long.code == 2 and "mean_input_tokens = 1024 exceeds max-model-len 512" in too_long.err
    fitting = _traffic(tmp_path, mean_input_tokens=256)
    report = plan(
        "cost", "--cloud", "gcp", *CHART_ARGS, "--values", preset, "--traffic", str(fitting), "--json"
    ).json()
    assert report["replica"]["inter_token_latency_s"] == 0.0
    assert "embedding model" in report["replica"]["limited_by"]

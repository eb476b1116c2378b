"""`vllm-sim replay`: the workload file, the JSON it prints, determinism, and the engine behaviour it runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from sim_helpers import TINY_MOE_CONFIG

from vllm_model.catalog import get_gpu, resolve_model
from vllm_model.memory import plan_memory
from vllm_model.timing import TimingModel
from vllm_sim import replay_cli
from vllm_sim.engine import Engine, EngineConfig, Request
from vllm_sim.launch import SIM
from vllm_sim.replay import replay
from vllm_sim.workload import WorkloadError, parse_workload

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
SUMMARY_KEYS = {"mean", "p50", "p90", "p99"}
STAGE_KEYS = {
    "requests",
    "ttft_ms",
    "itl_ms",
    "e2e_ms",
    "output_tokens_per_s",
    "requests_per_s",
    "preemptions",
    "max_running",
    "finished_per_s",
    "mean_running",
    "mean_waiting",
    "max_waiting",
    "mean_kv_cache_usage",
    "max_kv_cache_usage",
}


def workload(**prompts: object) -> dict:
    base = {
        "groups": 4,
        "prompts_per_group": 5,
        "prefix_tokens": 64,
        "prompt_tokens": 200,
        "output_tokens": 40,
        "ignore_eos": True,
    }
    return {
        "seed": 3,
        "stages": [
            {"rate": 4.0, "duration": 15, "arrival": "constant"},
            {"rate": 10.0, "duration": 10, "arrival": "poisson"},
        ],
        "prompts": {**base, **prompts},
    }


def run_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: dict, *flags: str
) -> tuple[int, str, str]:
    path = tmp_path / "workload.yaml"
    path.write_text(yaml.safe_dump(doc))
    code = replay_cli.main([QWEN, "--gpu", "L4", "--max-model-len", "4096", "--workload", str(path), *flags])
    out = capsys.readouterr()
    return code, out.out, out.err


def engine(model: str = QWEN, gpu: str = "L4", **overrides: object) -> tuple[Engine, TimingModel]:
    spec, card = resolve_model(model), get_gpu(gpu)
    plan = plan_memory(spec, card, max_model_len=4096, max_num_seqs=64, max_num_batched_tokens=2048)
    timing = TimingModel.build(spec, card, plan)
    return Engine(EngineConfig.from_plan(plan, timing, **overrides)), timing


def test_replay_json_has_every_figure_per_stage_and_overall(tmp_path, capsys):
    code, out, _ = run_cli(tmp_path, capsys, workload(), "--json")
    assert code == 0
    report = json.loads(out)
    assert len(report["stages"]) == 2
    for stats in [*report["stages"], report["overall"]]:
        assert set(stats) == STAGE_KEYS
        for metric in ("ttft_ms", "itl_ms", "e2e_ms"):
            assert set(stats[metric]) == SUMMARY_KEYS
            assert 0 < stats[metric]["p50"] <= stats[metric]["p90"] <= stats[metric]["p99"]
    assert report["stages"][0]["requests"] == 60  # 4 req/s for 15 s, fixed intervals
    assert report["overall"]["requests"] == sum(s["requests"] for s in report["stages"])
    assert report["stages"][0]["output_tokens_per_s"] == pytest.approx(60 * 40 / 15)


def test_replay_reports_the_gauges_an_autoscaler_reads_rising_with_the_rate(tmp_path, capsys):
    """Time-averaged running, waiting and KV usage over a stage (as /metrics would show them), their peaks
    and the requests finished within the stage: a busier stage runs a bigger batch on more KV blocks."""
    stages = [{"rate": 2.0, "duration": 20, "arrival": "poisson"}, {"rate": 12.0, "duration": 20}]
    code, out, _ = run_cli(tmp_path, capsys, {**workload(), "stages": stages}, "--json")
    assert code == 0
    quiet, busy = json.loads(out)["stages"]
    assert 0 < quiet["mean_running"] < busy["mean_running"] <= busy["max_running"]
    assert 0 < quiet["mean_kv_cache_usage"] < busy["mean_kv_cache_usage"] <= busy["max_kv_cache_usage"] <= 1
    assert 0 <= quiet["mean_waiting"] <= quiet["max_waiting"]
    # Kept up with: about as many finished within each stage as arrived in it.
    for stage in (quiet, busy):
        assert stage["finished_per_s"] == pytest.approx(stage["requests_per_s"], rel=0.2)


def test_replay_is_deterministic_for_a_seed_and_the_seed_moves_poisson_arrivals(tmp_path, capsys):
    first = json.loads(run_cli(tmp_path, capsys, workload(), "--json")[1])
    second = json.loads(run_cli(tmp_path, capsys, workload(), "--json")[1])
    other_seed = json.loads(run_cli(tmp_path, capsys, {**workload(), "seed": 4}, "--json")[1])
    first.pop("cpu_s"), second.pop("cpu_s"), other_seed.pop("cpu_s")
    assert first == second
    assert other_seed["stages"][0] == first["stages"][0]  # constant arrivals do not depend on the seed
    assert other_seed["stages"][1] != first["stages"][1]


def test_the_fast_decode_path_gives_exactly_the_step_by_step_result():
    # A small KV pool (preemptions), natural lengths (finishes at different steps) and two stages.
    doc = workload(ignore_eos=False, output_tokens=300, prompt_tokens=180)
    results = []
    for fast in (True, False):
        eng, timing = engine(num_blocks=150)
        results.append(replay(eng, parse_workload(doc), timing.api_seconds, fast=fast).report())
    assert results[0]["overall"]["preemptions"] > 0
    assert results[0] == results[1]


def test_a_request_arriving_while_the_engine_is_busy_starts_one_step_later():
    def first_token_delay(busy: bool) -> tuple[float, float]:
        eng, _ = engine()
        if busy:
            eng.add_request(Request("busy", "b" * 400, 500, seed=1, ignore_eos=True), 0.0)
            step = eng.schedule()
            eng.complete(step, step.duration)
        now = eng.running[0].last_token_at if busy else 0.0
        probe = Request("probe", "p" * 400, 2, seed=2, ignore_eos=True)
        eng.add_request(probe, now)
        steps = []
        while probe.first_token_at is None:
            step = eng.schedule()
            now += step.duration
            eng.complete(step, now)
            steps.append(step.duration)
        return probe.first_token_at - probe.arrival, steps[0]

    idle, _ = first_token_delay(busy=False)
    busy, first_step = first_token_delay(busy=True)
    assert busy > idle + 0.9 * first_step  # the step already planned runs before the probe's prefill


def test_the_second_stage_finds_the_prompts_the_first_one_cached():
    doc = {**workload(), "stages": [{"rate": 4.0, "duration": 10}, {"rate": 4.0, "duration": 10}]}
    eng, timing = engine("mistralai/Mistral-7B-Instruct-v0.2", "A100-80GB")
    report = replay(eng, parse_workload(doc), timing.api_seconds).report()
    cold, warm = report["stages"][0]["ttft_ms"]["mean"], report["stages"][1]["ttft_ms"]["mean"]
    # 80 requests over 20 prompts: the first pass computes 20 x 136 question tokens (and 4 prefixes of 64).
    assert eng.prefix_queries - eng.prefix_hits <= 20 * 136 + 4 * 64 + 80 * 16
    assert warm < cold


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"stages": [{"rate": -1, "duration": 10}]}, "stages[0].rate"),
        ({"stages": [{"rate": 1, "duration": 10, "arrival": "bursty"}]}, "stages[0].arrival"),
        ({"stages": [{"rate": 1, "duration": 10, "rps": 3}]}, "stages[0].rps"),
        ({"prompts": {**workload()["prompts"], "prefix_tokens": 500}}, "prompts.prefix_tokens"),
        ({"prompts": {**workload()["prompts"], "output_tokens": 0}}, "prompts.output_tokens"),
        ({"seed": "x"}, "seed"),
        ({"burst": True}, "burst"),
    ],
)
def test_a_bad_workload_is_refused_naming_the_key(change, key):
    with pytest.raises(WorkloadError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_workload({**workload(), **change})


def test_a_workload_longer_than_max_model_len_exits_2_naming_both(tmp_path, capsys):
    code, _, err = run_cli(tmp_path, capsys, workload(prompt_tokens=4000, output_tokens=200))
    assert code == 2
    assert "prompts.prompt_tokens + prompts.output_tokens" in err and "--max-model-len (4096)" in err


def test_replay_refuses_to_start_where_vllm_would(tmp_path, capsys):
    path = tmp_path / "workload.yaml"
    path.write_text(yaml.safe_dump(workload()))
    args = [
        "mistralai/Mistral-7B-Instruct-v0.2",
        "--gpu",
        "T4",
        "--dtype",
        "bfloat16",
        "--workload",
        str(path),
    ]
    code = replay_cli.main(args)
    assert code == 1
    assert "Bfloat16 is only supported" in capsys.readouterr().err


def test_replay_takes_a_moe_model_from_a_hugging_face_config(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps(TINY_MOE_CONFIG))
    path = tmp_path / "workload.yaml"
    path.write_text(yaml.safe_dump(workload()))
    code = replay_cli.main(
        ["--hf-config", str(tmp_path / "config.json"), "--gpu", "L4", "--workload", str(path), "--json"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["overall"]["requests"] > 0


def test_replay_is_a_subcommand_of_the_vllm_sim_command(tmp_path):
    path = tmp_path / "workload.yaml"
    path.write_text(yaml.safe_dump(workload()))
    argv = [*SIM, "replay", QWEN, "--gpu", "L4", "--max-model-len", "4096", "--workload", str(path), "--json"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert set(json.loads(run.stdout)["overall"]) == STAGE_KEYS
    usage = subprocess.run([*SIM, "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "{serve,run-batch,replay}" in usage

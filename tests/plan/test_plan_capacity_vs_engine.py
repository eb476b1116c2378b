"""The planner's replica rate is what the simulator's own engine delivers on a virtual clock.

The planner bounds a replica's rate with the simulator's step timing in closed form (vllm_plan.capacity):
here the simulator's engine (scheduler, block pool, same TimingModel) runs that batch for real,
closed-loop, and its measured request rate and inter-token latency must match the closed form's within
15 %. The rate the planner plans with is then the replay's (vllm_plan.slo_replay): at it, the replayed
stream meets the SLO's percentile, and a little faster it does not.
"""

from __future__ import annotations

import pytest

from vllm_model.timing import TimingModel
from vllm_plan.capacity import closed_form, replica_capacity
from vllm_plan.request import PlanRequest
from vllm_plan.sizing import FitReport, assess
from vllm_plan.slo_replay import replay_stream
from vllm_plan.traffic import Slo, TrafficProfile
from vllm_sim.engine import FINISHED, Engine, EngineConfig, Request

CASES = {
    "awq-7b-on-t4": PlanRequest(
        model="TheBloke/Mistral-7B-Instruct-v0.2-AWQ", gpu="T4", max_model_len=4096, dtype="half"
    ),
    "llama-8b-on-l4": PlanRequest(model="meta-llama/Llama-3.1-8B-Instruct", gpu="L4", max_model_len=8192),
    "qwen-0.5b-on-l4": PlanRequest(model="Qwen/Qwen2.5-0.5B-Instruct", gpu="L4", max_model_len=4096),
}


def _traffic(prompt: int, output: int) -> TrafficProfile:
    return TrafficProfile(
        name="engine-check",
        requests_per_second=(1.0,) * 24,
        mean_input_tokens=prompt,
        mean_output_tokens=output,
        slo=Slo(time_to_first_token_s=2.0, inter_token_latency_s=0.1),
        target_utilization=1.0,
        min_replicas=1,
    )


def _engine(fit: FitReport, max_num_seqs: int) -> Engine:
    memory = fit.memory
    return Engine(
        EngineConfig(
            num_blocks=memory.num_blocks,
            block_size=memory.block_size,
            max_num_seqs=max_num_seqs,
            max_num_batched_tokens=memory.max_num_batched_tokens,
            max_model_len=memory.max_model_len,
            timing=TimingModel.build(fit.model_spec, fit.gpu_spec, memory),
            enable_prefix_caching=False,
            needs_kv=memory.kv_bytes_per_token > 0,
        )
    )


def _closed_loop(engine: Engine, prompt: int, output: int, in_flight: int, completions: int, pooling=False):
    """Keep `in_flight` requests in the engine; (requests/s, mean step s) after the first `in_flight` finish.

    The first requests ask for 1..output tokens so that finishes (and new prompts) are spread out as in
    a steady stream, not all in one step.
    """
    serial = 0

    def submit(now: float, max_tokens: int) -> None:
        nonlocal serial
        serial += 1
        text = f"{serial:08d}" + "x" * (4 * prompt - 8)  # `prompt` tokens at 4 characters each
        req = Request(str(serial), text, max_tokens, seed=serial, ignore_eos=True, pooling=pooling)
        engine.add_request(req, now)

    now, done, window_start, steps, step_time = 0.0, 0, None, 0, 0.0
    for i in range(in_flight):
        submit(now, 1 + i * output // in_flight)
    while done < in_flight + completions:
        step = engine.schedule()
        assert step is not None
        now += step.duration
        finished = [r for r in engine.complete(step, now) if r.status == FINISHED]
        if window_start is not None:
            steps += 1
            step_time += step.duration
        for _ in finished:
            done += 1
            if done == in_flight:
                window_start = now
            submit(now, output)
    assert window_start is not None
    return completions / (now - window_start), step_time / steps


BATCH = 64  # or the most max-num-seqs and the KV cache allow, when fewer


@pytest.mark.parametrize(("prompt", "output"), [(512, 128), (2000, 100)], ids=["chat", "long-prompt"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_closed_form_replica_rate_matches_the_simulator_engine(case: str, prompt: int, output: int) -> None:
    fit = assess(CASES[case])
    form = closed_form(fit, _traffic(prompt, output), BATCH)
    batch = form.batch_size
    engine = _engine(fit, batch)
    rate, step = _closed_loop(engine, prompt, output, batch, completions=3 * batch)
    assert engine.num_preemptions == 0
    assert rate == pytest.approx(form.requests_per_second, rel=0.15)
    assert step == pytest.approx(form.inter_token_latency_s, rel=0.15)


def test_the_planned_rate_is_the_fastest_replayed_stream_within_the_slo_percentile() -> None:
    fit, traffic = assess(CASES["awq-7b-on-t4"]), _traffic(1024, 256)
    capacity = replica_capacity(fit, traffic)
    at_rate = replay_stream(fit, traffic, capacity.requests_per_second)
    # The figures the plan reports are the replay's p99s at that rate, not its means.
    assert capacity.percentile == 99
    assert capacity.time_to_first_token_s == at_rate["ttft_ms"]["p99"] / 1e3
    assert capacity.inter_token_latency_s == at_rate["itl_ms"]["p99"] / 1e3
    assert at_rate["itl_ms"]["p99"] > at_rate["itl_ms"]["mean"]
    assert capacity.inter_token_latency_s <= traffic.slo.inter_token_latency_s
    assert capacity.time_to_first_token_s <= traffic.slo.time_to_first_token_s
    faster = replay_stream(fit, traffic, capacity.requests_per_second * 1.05)
    assert (
        faster["itl_ms"]["p99"] / 1e3 > traffic.slo.inter_token_latency_s
        or faster["ttft_ms"]["p99"] / 1e3 > traffic.slo.time_to_first_token_s
    )
    assert capacity.requests_per_second < closed_form(fit, traffic).requests_per_second


def test_planned_embedding_rate_matches_the_simulator_engine() -> None:
    fit = assess(PlanRequest(model="BAAI/bge-base-en-v1.5", gpu="T4", dtype="half"))
    capacity = replica_capacity(fit, _traffic(256, 1))
    # Enough requests in flight to fill every step's token budget, as a busy replica would have.
    engine = _engine(fit, fit.memory.max_num_seqs)
    rate, _ = _closed_loop(engine, 256, 1, 4 * capacity.batch_size, completions=400, pooling=True)
    assert capacity.inter_token_latency_s == 0.0
    assert rate == pytest.approx(capacity.requests_per_second, rel=0.15)

"""What one replica sustains within an SLO: the simulator's step timing applied to a steady batch.

The simulator times one engine step (`vllm_sim.timing.TimingModel.step_seconds`); this adapter asks it
about the steady state of continuous batching at each batch size B:

* every step decodes one token for each of B running sequences (mean context = input + output / 2), and
  prefills B / output new prompts on average (so as many requests start as finish); the step time is
  the inter-token latency and B / output / step time is the request rate;
* time to first token = the step in flight, then the prompt's prefill in chunks of the token budget left
  beside B decodes (max-num-batched-tokens - B), each chunk one step;
* B is bounded by max-num-seqs and by the KV cache holding B whole requests (input + output tokens,
  rounded up to blocks), so the plan never relies on preemption.

The largest B that meets both SLOs gives the replica's sustainable rate.
"""

from __future__ import annotations

import math
from dataclasses import replace

from vllm_sim.timing import TimingModel

from vllm_plan.cost import ReplicaCapacity
from vllm_plan.errors import PlanInputError
from vllm_plan.sizing import FitReport
from vllm_plan.traffic import TrafficProfile


def _decode_step(timing: TimingModel, batch: int, traffic: TrafficProfile) -> float:
    """Mean step time with `batch` decodes plus the prefill share that keeps the batch full."""
    prompt, output = traffic.mean_input_tokens, traffic.mean_output_tokens
    context = prompt + output / 2
    starts = batch / output  # prompts prefilled per step in the steady state
    new_tokens = batch + starts * prompt
    pairs = batch * context + starts * prompt * (prompt + 1) / 2
    kv_read = batch * context + starts * prompt
    return timing.step_seconds(round(new_tokens), round(pairs), round(kv_read), batch)


def _time_to_first_token(timing: TimingModel, batch: int, budget: int, prompt: int, step: float) -> float:
    """The step in flight, then the prompt's chunks beside `batch` decodes (context grows chunk by chunk)."""
    chunk = max(1, budget - batch)
    total, done = step, 0
    while done < prompt:
        size = min(chunk, prompt - done)
        pairs = batch * prompt + size * (2 * done + size + 1) // 2
        total += timing.step_seconds(batch + size, pairs, batch * prompt + done + size, batch + 1)
        done += size
    return total


def replica_capacity(fit: FitReport, traffic: TrafficProfile) -> ReplicaCapacity:
    """Sustainable requests/s of one replica of `fit`'s deployment for `traffic`, within its SLO."""
    memory = fit.memory
    timing = TimingModel.build(fit.model_spec, fit.gpu_spec, memory)
    request_tokens = traffic.mean_input_tokens + traffic.mean_output_tokens
    if request_tokens > memory.max_model_len:
        raise PlanInputError(
            f"mean_input_tokens + mean_output_tokens = {request_tokens} exceeds max-model-len "
            f"{memory.max_model_len}: such requests are refused"
        )
    kv_bound = memory.num_blocks // math.ceil(request_tokens / memory.block_size)
    limit, limited_by = min(
        (memory.max_num_seqs, f"max-num-seqs {memory.max_num_seqs}"),
        (kv_bound, f"KV cache ({kv_bound} requests of {request_tokens} tokens)"),
    )
    best: ReplicaCapacity | None = None
    for batch in range(1, limit + 1):
        step = _decode_step(timing, batch, traffic)
        ttft = _time_to_first_token(
            timing, batch, memory.max_num_batched_tokens, traffic.mean_input_tokens, step
        )
        missed = []
        if step > traffic.slo.inter_token_latency_s:
            missed.append("inter-token latency SLO")
        if ttft > traffic.slo.time_to_first_token_s:
            missed.append("time-to-first-token SLO")
        if missed:
            if best is None:
                raise PlanInputError(
                    f"slo: even one request at a time misses the {' and the '.join(missed)} on "
                    f"{memory.gpu} x{memory.tensor_parallel_size} (inter-token {step * 1000:.0f} ms, "
                    f"TTFT {ttft:.2f} s): relax the traffic profile's slo or plan a faster GPU"
                )
            return replace(best, limited_by=" and ".join(missed))
        best = ReplicaCapacity(
            requests_per_second=batch / traffic.mean_output_tokens / step,
            batch_size=batch,
            time_to_first_token_s=ttft,
            inter_token_latency_s=step,
            limited_by=limited_by,
        )
    if best is None:
        raise PlanInputError(f"the KV cache cannot hold one request of {request_tokens} tokens")
    return best

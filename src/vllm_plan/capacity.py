"""What one replica sustains within an SLO: the simulator's step timing applied to a steady batch.

The simulator times one engine step (`vllm_model.timing.TimingModel.step_seconds`); this adapter asks it
about the steady state of continuous batching at each batch size B, over one request lifetime (a
window of `output` decode steps in which B requests finish and B new prompts are prefilled):

* every step decodes one token for each of the B running sequences (mean context = input + output / 2);
* the B new prompts are prefilled in chunks of the token budget left beside the decodes
  (max-num-batched-tokens - B); a step that carries a chunk is slower (prefill is compute-bound), so
  prefill steps and plain decode steps are timed separately and the window is their sum. When there are
  more chunks than steps, every step carries prefill and the window stretches to fit the budget;
* inter-token latency = window time / steps, request rate = B / window time, time to first token =
  the step in flight plus the prompt's own chunks;
* B is bounded by max-num-seqs and by the KV cache holding B whole requests (input + output tokens,
  rounded up to blocks), so the plan never relies on preemption.

The largest B that meets both SLOs gives the replica's sustainable rate.
"""

from __future__ import annotations

import math
from dataclasses import replace

from vllm_model.timing import TimingModel
from vllm_plan.cost import ReplicaCapacity
from vllm_plan.errors import PlanInputError
from vllm_plan.sizing import FitReport
from vllm_plan.traffic import TrafficProfile


def _step(timing: TimingModel, batch: int, context: float, prefill: float, prompt: int) -> float:
    """One step: `batch` decodes at mean `context`, plus `prefill` prompt tokens (mid-prompt on average)."""
    pairs = batch * context + prefill * (prompt + 1) / 2
    kv_read = batch * context + prefill + prompt / 2 if prefill else batch * context
    return timing.step_seconds(round(batch + prefill), round(pairs), round(kv_read), batch)


def _window(timing: TimingModel, batch: int, budget: int, traffic: TrafficProfile) -> tuple[float, float]:
    """(seconds, steps) of one request lifetime at a full batch of `batch` sequences."""
    prompt, output = traffic.mean_input_tokens, traffic.mean_output_tokens
    context = prompt + output / 2
    room = max(1, budget - batch)  # prompt tokens a step can take beside the decodes
    chunks_per_prompt = math.ceil(prompt / room)
    prefill_steps = batch * chunks_per_prompt
    if prefill_steps <= output:  # prompts take turns: some steps carry a chunk, the rest only decode
        chunk = prompt / chunks_per_prompt
        seconds = prefill_steps * _step(timing, batch, context, chunk, prompt)
        seconds += (output - prefill_steps) * _step(timing, batch, context, 0, prompt)
        return seconds, output
    per_step = min(room, batch * prompt / output)  # every step carries prefill
    steps = batch * prompt / per_step
    return steps * _step(timing, batch, context, per_step, prompt), steps


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


def _pooling_capacity(timing: TimingModel, fit: FitReport, traffic: TrafficProfile) -> ReplicaCapacity:
    """An embedding model: no decode, each step embeds as many prompts as the token budget takes.

    A request waits for the step in flight, then is embedded in the next one: latency = two steps.
    """
    memory, prompt = fit.memory, traffic.mean_input_tokens
    tokens = min(memory.max_num_batched_tokens, memory.max_num_seqs * prompt)
    step = timing.step_seconds(tokens, round(tokens * (prompt + 1) / 2), tokens, max(1, tokens // prompt))
    if 2 * step > traffic.slo.time_to_first_token_s:
        raise PlanInputError(
            f"slo: time_to_first_token_seconds {traffic.slo.time_to_first_token_s:g} is shorter than two "
            f"embedding steps of {tokens} tokens on {memory.gpu} ({2 * step:.2f} s)"
        )
    limit = "max-num-batched-tokens" if tokens == memory.max_num_batched_tokens else "max-num-seqs"
    return ReplicaCapacity(
        requests_per_second=tokens / prompt / step,
        batch_size=max(1, tokens // prompt),
        time_to_first_token_s=2 * step,
        inter_token_latency_s=0.0,
        limited_by=f"{limit} (embedding model: prompts only)",
    )


def replica_capacity(fit: FitReport, traffic: TrafficProfile) -> ReplicaCapacity:
    """Sustainable requests/s of one replica of `fit`'s deployment for `traffic`, within its SLO."""
    memory = fit.memory
    timing = TimingModel.build(fit.model_spec, fit.gpu_spec, memory)
    pooling = fit.model_spec.is_embedding_model
    request_tokens = traffic.mean_input_tokens + (0 if pooling else traffic.mean_output_tokens)
    if request_tokens > memory.max_model_len:
        keys = "mean_input_tokens" if pooling else "mean_input_tokens + mean_output_tokens"
        raise PlanInputError(
            f"{keys} = {request_tokens} exceeds max-model-len {memory.max_model_len}: "
            "such requests are refused"
        )
    if pooling:
        return _pooling_capacity(timing, fit, traffic)
    kv_bound = memory.num_blocks // math.ceil(request_tokens / memory.block_size)
    limit, limited_by = min(
        (memory.max_num_seqs, f"max-num-seqs {memory.max_num_seqs}"),
        (kv_bound, f"KV cache ({kv_bound} requests of {request_tokens} tokens)"),
    )
    best: ReplicaCapacity | None = None
    for batch in range(1, limit + 1):
        seconds, steps = _window(timing, batch, memory.max_num_batched_tokens, traffic)
        step = seconds / steps
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
            requests_per_second=batch / seconds,
            batch_size=batch,
            time_to_first_token_s=ttft,
            inter_token_latency_s=step,
            limited_by=limited_by,
        )
    if best is None:
        raise PlanInputError(f"the KV cache cannot hold one request of {request_tokens} tokens")
    return best

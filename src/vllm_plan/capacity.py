"""What one replica sustains within an SLO: the simulator's step timing, then its replay percentiles.

Two stages. The closed form times the steady state of continuous batching at each batch size B with the
simulator's step timing (`vllm_model.timing.TimingModel.step_seconds`), over one request lifetime (a
window of `output` decode steps in which B requests finish and B new prompts are prefilled):

* every step decodes one token for each of the B running sequences (mean context = input + output / 2);
* the B new prompts are prefilled in chunks of the token budget left beside the decodes
  (max-num-batched-tokens - B); a step that carries a chunk is slower (prefill is compute-bound), so
  prefill steps and plain decode steps are timed separately and the window is their sum. When there are
  more chunks than steps, every step carries a chunk and the budget is split between the prompts still
  prefilling and the sequences decoding (the engine cannot decode B and prefill a full budget at once);
* request rate = B / window time;
* B is bounded by max-num-seqs and by the KV cache holding B whole requests (input + output tokens,
  rounded up to blocks), so the plan never relies on preemption.

The largest B gives the replica's saturated rate. An SLO is a percentile of an open stream, not an
average of a full batch, so the rate the plan uses is the highest Poisson rate below the saturated one
whose replayed percentile TTFT and ITL meet the SLO (vllm_plan.slo_replay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vllm_model.timing import TimingModel
from vllm_plan.cost import ReplicaCapacity
from vllm_plan.errors import PlanInputError
from vllm_plan.sizing import FitReport
from vllm_plan.slo_replay import sustainable_rate
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
    # Every step carries prefill: of the budget, `decoding` sequences take one token each and the rest
    # prefill the others' prompts, in the proportion a request spends decoding (output) vs prefilling.
    decoding = min(batch, budget * output / (prompt + output))
    per_step = min(budget - decoding, decoding * prompt / output)
    steps = batch * prompt / per_step
    return steps * _step(timing, round(decoding), context, per_step, prompt), steps


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


@dataclass(frozen=True)
class ClosedForm:
    """The steady full batch at `batch_size` sequences: its request rate and mean inter-token latency."""

    requests_per_second: float
    inter_token_latency_s: float
    batch_size: int
    limited_by: str


def closed_form(fit: FitReport, traffic: TrafficProfile, batch: int | None = None) -> ClosedForm:
    """The saturated rate at `batch` sequences (default: the most max-num-seqs and the KV cache allow)."""
    memory = fit.memory
    timing = TimingModel.build(fit.model_spec, fit.gpu_spec, memory)
    request_tokens = traffic.mean_input_tokens + traffic.mean_output_tokens
    kv_bound = memory.num_blocks // math.ceil(request_tokens / memory.block_size)
    limit, limited_by = min(
        (memory.max_num_seqs, f"max-num-seqs {memory.max_num_seqs}"),
        (kv_bound, f"KV cache ({kv_bound} requests of {request_tokens} tokens)"),
    )
    if limit < 1:
        raise PlanInputError(f"the KV cache cannot hold one request of {request_tokens} tokens")
    size = limit if batch is None else min(batch, limit)
    seconds, steps = _window(timing, size, memory.max_num_batched_tokens, traffic)
    return ClosedForm(size / seconds, seconds / steps, size, limited_by)


def replica_capacity(fit: FitReport, traffic: TrafficProfile) -> ReplicaCapacity:
    """Sustainable requests/s of one replica of `fit`'s deployment for `traffic`, within its SLO."""
    memory = fit.memory
    pooling = fit.model_spec.is_embedding_model
    request_tokens = traffic.mean_input_tokens + (0 if pooling else traffic.mean_output_tokens)
    if request_tokens > memory.max_model_len:
        keys = "mean_input_tokens" if pooling else "mean_input_tokens + mean_output_tokens"
        raise PlanInputError(
            f"{keys} = {request_tokens} exceeds max-model-len {memory.max_model_len}: "
            "such requests are refused"
        )
    if pooling:
        return _pooling_capacity(TimingModel.build(fit.model_spec, fit.gpu_spec, memory), fit, traffic)
    saturated = closed_form(fit, traffic)
    replayed = sustainable_rate(fit, traffic, saturated.requests_per_second, saturated.limited_by)
    return ReplicaCapacity(
        requests_per_second=replayed.requests_per_second,
        batch_size=replayed.max_running,
        time_to_first_token_s=replayed.time_to_first_token_s,
        inter_token_latency_s=replayed.inter_token_latency_s,
        limited_by=replayed.limited_by,
        percentile=traffic.slo.percentile,
    )

"""One ramp step against a live OpenAI-compatible endpoint: a bounded vllm-load run, /metrics sampled
alongside, the measured window's figures read back into the deployment's time.

A step sends `requests` requests (at a Poisson rate, or with a fixed number in flight) and starts none
after `seconds`. The first WARMUP_SHARE of them fill the batch; the measured window runs from the first
measured request's start to the last one's. Throughput is the requests that finished inside that window
per second; the percentiles are those of the measured requests; the gauges are the samples taken inside
it. A simulator at VLLM_SIM_TIME_SCALE s runs 1/s times faster than its model: `time_scale` divides its
seconds (and multiplies its rates) back into the model's.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from vllm_load import LoadSpec, Report, arun_load
from vllm_load.outcome import RequestResult
from vllm_load.spec import Api
from vllm_load.stats import percentile
from vllm_plan.ramp import WARMUP_SHARE, RampKind, Step
from vllm_plan.request_mix import RequestMix
from vllm_plan.scrape import Sample, fetch, sample_every


@dataclass(frozen=True)
class Endpoint:
    url: str
    metrics_url: str
    model: str | None  # the model name to request (None: the first the server lists)
    api_key: str | None = None
    api: Api = "completions"
    timeout_s: float = 120.0
    time_scale: float = 1.0  # the target's VLLM_SIM_TIME_SCALE (1: a real GPU)
    scrape_every_s: float = 0.5
    seed: int = 0


def request_itl(r: RequestResult) -> float | None:
    """A request's mean gap between output tokens after the first (what the replay reports as ITL)."""
    if r.ttft_s is None or r.output_tokens < 2:
        return None
    return (r.latency_s - r.ttft_s) / (r.output_tokens - 1)


def warm_up(results: list[RequestResult]) -> int:
    """How many of a step's first requests fill the batch: WARMUP_SHARE of them, or all those that started
    within one typical request lifetime (the median latency), whichever is more; always one to measure."""
    ok = sorted(r.latency_s for r in results if r.ok)
    lifetime = ok[len(ok) // 2] if ok else 0.0
    filling = sum(r.start_s - results[0].start_s < lifetime for r in results)
    return min(len(results) - 2, max(math.floor(len(results) * WARMUP_SHARE), filling))


def load_spec(
    target: Endpoint, mix: RequestMix, kind: RampKind, load: float, requests: int, seconds: float
) -> LoadSpec:
    """Streamed requests of `mix` (each exactly its max_tokens) at `load` in the target's own time."""
    pace = {"rate": load, "arrival": "poisson"} if kind == "rate" else {"concurrency": round(load)}
    return LoadSpec(
        url=target.url,
        model=target.model,
        api_key=target.api_key,
        api=target.api,
        stream=True,
        ignore_eos=True,
        mix=mix.requests,
        requests=requests,
        duration_s=seconds,
        timeout_s=target.timeout_s,
        seed=target.seed,
        **pace,
    )


def _step(
    report: Report, samples: list[Sample], kind: RampKind, offered: float, percentile_: int, scale: float
) -> Step:
    """The measured window of `report` in model time: seconds / scale, rates x scale."""
    results = report.results
    measured = results[warm_up(results) :]
    begin, end = measured[0].start_s, measured[-1].start_s
    window = max(end - begin, 1e-9)
    finished = [r for r in results if r.ok and begin <= r.end_s <= end]
    ok = [r for r in measured if r.ok]
    ttfts = [r.ttft_s for r in ok if r.ttft_s is not None]
    itls = [x for r in ok if (x := request_itl(r)) is not None]
    inside = [s for s in samples if report.started_at + begin <= s.at <= report.started_at + end] or samples
    tokens = sum(r.output_tokens for r in finished)
    prompt_tokens = None
    if len(samples) >= 2 and samples[-1].prompt_tokens > samples[0].prompt_tokens:
        prompt_tokens = (samples[-1].prompt_tokens - samples[0].prompt_tokens) / max(1, report.ok)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return Step(
        load=offered * scale if kind == "rate" else offered,
        requests=len(measured),
        failed=report.lost,
        arrived_per_s=(len(measured) - 1) / window * scale if len(measured) > 1 else 0.0,
        finished_per_s=len(finished) / window * scale,
        output_tokens_per_s=tokens / window * scale,
        ttft_s=percentile(ttfts, percentile_) / scale if ttfts else math.inf,
        itl_s=percentile(itls, percentile_) / scale if itls else math.inf,
        mean_running=mean([s.running for s in inside]),
        max_running=max((s.running for s in inside), default=0.0),
        mean_waiting=mean([s.waiting for s in inside]),
        max_waiting=max((s.waiting for s in inside), default=0.0),
        mean_kv_usage=mean([s.kv_usage for s in inside]),
        max_kv_usage=max((s.kv_usage for s in inside), default=0.0),
        closed_loop=kind == "concurrency",
        wall_s=report.wall_s,
        prompt_tokens=prompt_tokens,
    )


async def _arun(target: Endpoint, spec: LoadSpec) -> tuple[Report, list[Sample]]:
    samples: list[Sample] = []
    first, _ = await asyncio.to_thread(fetch, target.metrics_url, target.model)
    samples.append(first)
    sampler = asyncio.create_task(
        sample_every(target.metrics_url, target.model, target.scrape_every_s, samples)
    )
    try:
        report = await arun_load(spec)
    finally:
        sampler.cancel()
    last, _ = await asyncio.to_thread(fetch, target.metrics_url, target.model)
    samples.append(last)
    return report, samples


def measure_step(
    target: Endpoint,
    mix: RequestMix,
    kind: RampKind,
    load: float,
    requests: int,
    seconds: float,
    percentile_: int,
) -> Step:
    """Run one step at `load` (in the target's own time: wall requests/s, or requests in flight)."""
    spec = load_spec(target, mix, kind, load, requests, seconds)
    report, samples = asyncio.run(_arun(target, spec))
    if report.sent < 2:
        raise RuntimeError(f"a step at load {load:g} sent {report.sent} request: raise --step-seconds")
    return _step(report, samples, kind, load, percentile_, target.time_scale)

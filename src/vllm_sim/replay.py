"""Replay a workload on the simulator's engine in virtual time: no HTTP, no sleeping, same scheduler.

The engine is the one `vllm-sim serve` runs (vllm_sim.engine: paged KV blocks, V1 continuous batching with
async scheduling, chunked prefill under max-num-batched-tokens, preemption, block-hash prefix cache);
here a loop hands it each request at its arrival time and advances a virtual clock by each step's model
time. The client sees the engine's times plus the API server's per-request time (TimingModel.api_seconds).
Per stage (requests that arrived in it) and overall: requests, TTFT / ITL / E2E in ms (mean, p50, p90,
p99), output tokens/s, requests/s (arrived), finished/s (requests of any stage finishing within the
stage's time: below requests/s the engine falls behind), preemptions and the largest running batch; and,
over the stage's virtual time (the drain after the last stage excluded), what vLLM's gauges would show:
the time-averaged running and waiting counts and KV-cache usage (vllm:num_requests_running / _waiting,
vllm:kv_cache_usage_perc) and their peaks. ITL per request is (E2E - TTFT) / (output tokens - 1), the
convention of the calibration data.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

from vllm_sim.engine import Engine, Request
from vllm_sim.tokens import stable_seed
from vllm_sim.workload import Workload

STALL_LIMIT = 3  # consecutive empty schedules with nothing arriving: the queue can never run


@dataclass
class StageStats:
    """What happened while one stage's requests ran."""

    ttft: list[float] = field(default_factory=list)
    itl: list[float] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    output_tokens: int = 0
    preemptions: int = 0
    max_running: int = 0
    finished: int = 0  # requests (of any stage) that finished within this stage's time
    # What /metrics would show over the stage's time: integrals of the engine's running and waiting counts
    # and KV-cache usage over virtual seconds (time averages = integral / observed seconds), and peaks.
    observed_s: float = 0.0
    running_s: float = 0.0
    waiting_s: float = 0.0
    kv_usage_s: float = 0.0
    max_waiting: int = 0
    max_kv_usage: float = 0.0

    def merge(self, other: StageStats) -> None:
        self.ttft += other.ttft
        self.itl += other.itl
        self.e2e += other.e2e
        self.output_tokens += other.output_tokens
        self.preemptions += other.preemptions
        self.finished += other.finished
        self.max_running = max(self.max_running, other.max_running)
        self.observed_s += other.observed_s
        self.running_s += other.running_s
        self.waiting_s += other.waiting_s
        self.kv_usage_s += other.kv_usage_s
        self.max_waiting = max(self.max_waiting, other.max_waiting)
        self.max_kv_usage = max(self.max_kv_usage, other.max_kv_usage)

    def hold(self, running: int, waiting: int, usage: float, seconds: float) -> None:
        """The engine held `running` and `waiting` requests and `usage` of its KV cache for `seconds`."""
        if seconds <= 0:
            return
        self.observed_s += seconds
        self.running_s += running * seconds
        self.waiting_s += waiting * seconds
        self.kv_usage_s += usage * seconds
        self.max_waiting = max(self.max_waiting, waiting)
        self.max_kv_usage = max(self.max_kv_usage, usage)

    def time_mean(self, integral: float) -> float:
        return integral / self.observed_s if self.observed_s else 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on an already sorted list."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summary_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    mean = sum(ordered) / len(ordered) if ordered else math.nan
    return {
        "mean": round(mean * 1e3, 3),
        "p50": round(percentile(ordered, 0.5) * 1e3, 3),
        "p90": round(percentile(ordered, 0.9) * 1e3, 3),
        "p99": round(percentile(ordered, 0.99) * 1e3, 3),
    }


def _report(stats: StageStats, duration: float) -> dict[str, Any]:
    return {
        "requests": len(stats.e2e),
        "ttft_ms": summary_ms(stats.ttft),
        "itl_ms": summary_ms(stats.itl),
        "e2e_ms": summary_ms(stats.e2e),
        "output_tokens_per_s": round(stats.output_tokens / duration, 3),
        "requests_per_s": round(len(stats.e2e) / duration, 3),
        "finished_per_s": round(stats.finished / duration, 3),
        "preemptions": stats.preemptions,
        "max_running": stats.max_running,
        "mean_running": round(stats.time_mean(stats.running_s), 3),
        "mean_waiting": round(stats.time_mean(stats.waiting_s), 3),
        "max_waiting": stats.max_waiting,
        "mean_kv_cache_usage": round(stats.time_mean(stats.kv_usage_s), 4),
        "max_kv_cache_usage": round(stats.max_kv_usage, 4),
    }


@dataclass
class ReplayResult:
    stages: list[StageStats]
    durations: list[float]
    simulated_seconds: float  # virtual time until the last request finished

    def report(self) -> dict[str, Any]:
        overall = StageStats()
        for stats in self.stages:
            overall.merge(stats)
        return {
            "stages": [_report(s, d) for s, d in zip(self.stages, self.durations, strict=True)],
            "overall": _report(overall, sum(self.durations)),
            "simulated_s": round(self.simulated_seconds, 3),
        }


def _state(engine: Engine) -> tuple[int, int, float]:
    return len(engine.running), len(engine.waiting), engine.kv_usage()


def _hold_idle(
    stages: list[StageStats], starts: list[float], engine: Engine, start: float, stop: float, end: float
) -> None:
    """An idle engine from `start` to `stop`: each stage that span crosses holds its part."""
    for index, begin in enumerate(starts):
        finish = starts[index + 1] if index + 1 < len(starts) else end
        stages[index].hold(*_state(engine), min(stop, finish) - max(start, begin))


def replay(engine: Engine, workload: Workload, api_seconds: float = 0.0, fast: bool = True) -> ReplayResult:
    """Run `workload` on `engine` (fresh or warm) in virtual time; `api_seconds` adds to TTFT and E2E.

    `fast` lets the engine run the pure-decode stretches between arrivals in one pass
    (Engine.run_decodes); the result is the same as stepping one step at a time.
    """
    arrivals = workload.arrivals()
    texts = workload.prompt_texts()
    prompts = workload.prompts
    starts = workload.stage_starts
    stages = [StageStats() for _ in workload.stages]
    block_size = engine.config.block_size
    submitted: list[tuple[int, Request]] = []
    end = workload.duration  # the drain after the last stage is no stage's time
    now, i, idle = 0.0, 0, 0
    while True:
        while i < len(arrivals) and arrivals[i].time <= now:
            a = arrivals[i]
            req = Request(
                f"replay-{i}",
                texts[a.prompt],
                prompts.output_tokens,
                seed=stable_seed(workload.seed, i),
                block_size=block_size,
                ignore_eos=prompts.ignore_eos,
            )
            engine.add_request(req, a.time)
            submitted.append((a.stage, req))
            i += 1
        if fast:
            index = max(0, bisect.bisect_right(starts, now) - 1)
            until = arrivals[i].time if i < len(arrivals) else math.inf
            if index + 1 < len(starts):
                until = min(until, starts[index + 1])
            running = len(engine.running)
            stage = stages[index]

            def held(start: float, seconds: float, batch: int, stage: StageStats = stage) -> None:
                stage.hold(batch, len(engine.waiting), engine.kv_usage(), min(start + seconds, end) - start)

            ran = engine.run_decodes(now, until, held)
            if ran is not None:
                stage.max_running = max(stage.max_running, running)
                now = ran[0]
                continue
        step = engine.schedule()
        if step is None:
            if not engine.has_work():
                if i == len(arrivals):
                    break
                _hold_idle(stages, starts, engine, now, arrivals[i].time, end)
                now = arrivals[i].time
                continue
            idle += 1
            if idle > STALL_LIMIT:
                raise RuntimeError("replay stalled: waiting requests can never be scheduled")
            continue
        idle = 0
        stage = stages[max(0, bisect.bisect_right(starts, now) - 1)]
        stage.max_running = max(stage.max_running, len(engine.running))
        stage.preemptions += step.preempted
        stage.hold(*_state(engine), min(now + step.duration, end) - now)
        now += step.duration
        engine.complete(step, now)
    for index, req in submitted:
        if req.first_token_at is None or req.finished_at is None:
            continue
        if req.finished_at < end:
            stages[max(0, bisect.bisect_right(starts, req.finished_at) - 1)].finished += 1
        stats = stages[index]
        ttft = req.first_token_at - req.arrival + api_seconds
        e2e = req.finished_at - req.arrival + api_seconds
        stats.ttft.append(ttft)
        stats.e2e.append(e2e)
        out = len(req.output)
        stats.output_tokens += out
        if out > 1:
            stats.itl.append((e2e - ttft) / (out - 1))
    return ReplayResult(stages, [s.duration for s in workload.stages], now)

"""A capacity ramp: load steps of one replica, each judged against the SLO, up to the knee.

The ramp is a search over one number, the load: a request rate (open loop, the default) or a number of
requests in flight (closed loop). It starts low, multiplies the load by `factor` after every step that
holds the SLO, and after the first step that misses it bisects `refine` times between the last good and
the first bad load. A step misses when its percentile TTFT or ITL exceeds the SLO, when a request failed,
or (rate ramp) when the replica finished fewer than SATURATED of the requests that arrived in the
measured window: it fell behind, and a longer step would only queue more. The knee is the held step with
the highest throughput. Where a step comes from (a real endpoint, or the simulator's replay in virtual
time) is the caller's: `measure(load) -> Step`.

Every figure is in the deployment's own time: requests/s and seconds as on the real GPU (a simulator at
VLLM_SIM_TIME_SCALE s is read back at 1/s by the measuring side).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from vllm_plan.traffic import Slo

RampKind = Literal["rate", "concurrency"]
RAMPS: tuple[RampKind, ...] = ("rate", "concurrency")
# finished / arrived in the measured window below which a rate step fell behind: a step of a few hundred
# Poisson arrivals holds a batch of tens, whose count drifts by a few; below this it is not noise.
SATURATED = 0.8
# The first fifth of a step's requests fill the batch; the rest are measured (measured and predicted alike).
WARMUP_SHARE = 0.2
FLAT = 1.05  # a concurrency step must add this much throughput over the one before to count as progress


@dataclass(frozen=True)
class Step:
    """One load step's measured window, in the deployment's time."""

    load: float  # offered: requests/s (rate ramp) or requests in flight (concurrency ramp)
    requests: int  # requests measured (after the step's warm-up)
    failed: int
    arrived_per_s: float  # requests that arrived per second in the window
    finished_per_s: float  # throughput: requests that finished per second in the window
    output_tokens_per_s: float
    ttft_s: float  # at the SLO's percentile
    itl_s: float  # at the SLO's percentile: each request's mean gap after its first token
    mean_running: float
    max_running: float
    mean_waiting: float
    max_waiting: float
    mean_kv_usage: float  # a fraction 0-1, as vllm:kv_cache_usage_perc
    max_kv_usage: float
    closed_loop: bool = False  # a concurrency step (else a rate step)
    wall_s: float = 0.0  # seconds the step took to run (wall clock of this machine)
    prompt_tokens: float | None = None  # mean prompt tokens per request as the server counted them

    @property
    def throughput(self) -> float:
        """Requests/s the step served: a rate step's arrivals (a step that kept up finished them all;
        counting finishes inside a short window undercounts by the batch it ends with), a concurrency
        step's finishes."""
        return self.finished_per_s if self.closed_loop else self.arrived_per_s

    def misses(self, slo: Slo, ramp: RampKind, before: Step | None = None) -> list[str]:
        """What this step missed; empty when it held the SLO."""
        key = f"p{slo.percentile}"
        out = []
        if self.failed:
            out.append(f"{self.failed} failed requests")
        if not self.requests or self.ttft_s > slo.time_to_first_token_s:
            out.append(f"{key} TTFT {self.ttft_s:.3g} s > {slo.time_to_first_token_s:g} s")
        if not self.requests or self.itl_s > slo.inter_token_latency_s:
            out.append(f"{key} ITL {self.itl_s * 1e3:.3g} ms > {slo.inter_token_latency_s * 1e3:g} ms")
        if ramp == "rate" and self.finished_per_s < SATURATED * self.arrived_per_s:
            out.append(
                f"saturated: finished {self.finished_per_s:.3g}/s of {self.arrived_per_s:.3g}/s arriving"
            )
        if (
            ramp == "concurrency"
            and before is not None
            and self.finished_per_s < FLAT * before.finished_per_s
        ):
            out.append(f"throughput flat ({self.finished_per_s:.3g}/s after {before.finished_per_s:.3g}/s)")
        return out


@dataclass(frozen=True)
class RampSettings:
    kind: RampKind
    start: float  # the first load
    factor: float = 2.0
    refine: int = 2
    max_steps: int = 12


@dataclass
class Ramp:
    """The steps in the order they ran, each with what it missed, and why the ramp stopped."""

    kind: RampKind
    slo: Slo
    steps: list[Step] = field(default_factory=list)
    missed: list[list[str]] = field(default_factory=list)
    stopped: str = ""

    def held(self) -> list[Step]:
        return [s for s, m in zip(self.steps, self.missed, strict=True) if not m]

    @property
    def knee(self) -> Step | None:
        """The held step with the highest throughput; None when no step held the SLO."""
        return max(self.held(), key=lambda s: s.throughput, default=None)

    def by_load(self) -> list[tuple[Step, list[str]]]:
        return sorted(zip(self.steps, self.missed, strict=True), key=lambda pair: pair[0].load)


Measure = Callable[[float], Step]
# Returns why the ramp must stop before another step (a request or time budget spent), or None.
Budget = Callable[[], str | None]
Progress = Callable[[int, Step, list[str]], None]


def _next_between(kind: RampKind, low: float, high: float) -> float | None:
    if kind == "concurrency":
        mid = math.floor((low + high) / 2)
        return mid if low < mid < high else None
    return (low + high) / 2


def run_ramp(
    settings: RampSettings, slo: Slo, measure: Measure, budget: Budget, progress: Progress | None = None
) -> Ramp:
    """Ramp up to the first step that misses the SLO, then bisect `settings.refine` times."""
    ramp = Ramp(settings.kind, slo)

    def run(load: float) -> bool:
        """Run one step; False when the ramp must stop (budget spent or max-steps)."""
        if len(ramp.steps) >= settings.max_steps:
            ramp.stopped = f"--max-steps {settings.max_steps} reached"
            return False
        reason = budget()
        if reason:
            ramp.stopped = reason
            return False
        before = ramp.knee if settings.kind == "concurrency" else None
        step = measure(load)
        missed = step.misses(slo, settings.kind, before if before and before.load < load else None)
        ramp.steps.append(step)
        ramp.missed.append(missed)
        if progress:
            progress(len(ramp.steps), step, missed)
        return True

    load = settings.start
    good: float | None = None
    bad: float | None = None
    while run(load):
        if ramp.missed[-1]:
            bad = load
            break
        good = load
        load = math.ceil(load * settings.factor) if settings.kind == "concurrency" else load * settings.factor
    if bad is None:
        ramp.stopped = ramp.stopped or "no step missed the SLO"
        return ramp
    if good is None:
        ramp.stopped = "the first step missed the SLO"
        return ramp
    for _ in range(settings.refine):
        mid = _next_between(settings.kind, good, bad)
        if mid is None or not run(mid):
            break
        if ramp.missed[-1]:
            bad = mid
        else:
            good = mid
    ramp.stopped = ramp.stopped or f"refined between {good:.3g} and {bad:.3g}"
    return ramp

"""A whole `vllm-plan capacity` run as a Python API (the CLI and the autoscaling bench call it):
probe the target, ramp it, replay the same ramp for a GPU when asked, derive the values at the knee.

    spec = CapacitySpec(slo=Slo(1.0, 0.05), mix=mix_from_lengths(512, 128),
                        target=Endpoint(url, f"{url}/metrics", model, time_scale=0.2))
    chart_values, run = derive_chart_values(spec)   # the snippet's values tree, and the whole run
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

from vllm_load import arun_load
from vllm_plan.capacity_report import CapacityRun
from vllm_plan.endpoint import Endpoint, load_spec, measure_step
from vllm_plan.predicted import idle_lifetime, predict_step
from vllm_plan.ramp import Progress, Ramp, RampKind, RampSettings, Step, run_ramp
from vllm_plan.request_mix import RequestMix
from vllm_plan.scrape import fetch
from vllm_plan.sizing import FitReport
from vllm_plan.thresholds import DEFAULT_TARGET_UTILIZATION, Triggers, derive, values
from vllm_plan.traffic import Slo

PROBE_REQUESTS = 3  # sent one at a time before the ramp: the target answers, and how long one request takes


@dataclass(frozen=True)
class CapacitySpec:
    slo: Slo
    mix: RequestMix
    target: Endpoint | None = None  # measure this endpoint
    predict: FitReport | None = None  # replay the ramp on this deployment (rate ramp only)
    ramp: RampKind = "rate"
    start: float | None = None  # the first load in model units (None: about one request in flight)
    factor: float = 2.0
    refine: int = 2
    max_steps: int = 12
    step_requests: int = 200
    step_seconds: float = 60.0  # wall seconds: no request of a step starts after them
    max_requests: int = 3000
    max_duration_s: float = 900.0  # wall seconds of the measured ramp
    target_utilization: float = DEFAULT_TARGET_UTILIZATION
    peak_rps: float | None = None
    min_replicas: int = 1
    progress: bool = True  # a line per step on stderr
    compare: tuple[Triggers, ...] = ()  # other thresholds to hold against the same ramp


class Bounds:
    """The measured ramp's request and time budget, and what each step may still use."""

    def __init__(self, max_requests: int, max_seconds: float) -> None:
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.sent, self.started = 0, time.monotonic()

    def spent(self) -> str | None:
        if self.max_requests - self.sent < 2:  # a step needs two requests to have a window
            return f"--max-requests {self.max_requests} spent"
        if time.monotonic() - self.started >= self.max_seconds:
            return f"--max-duration {self.max_seconds:g} s spent"
        return None

    def seconds_left(self) -> float:
        return self.max_seconds - (time.monotonic() - self.started)


def progress_line(name: str, unit: str) -> Progress:
    def show(index: int, step: Step, missed: list[str]) -> None:
        verdict = "MISSED " + "; ".join(missed) if missed else "held"
        took = f" ({step.wall_s:.1f} s)" if step.wall_s else ""
        print(
            f"[capacity] {name} step {index}: load {step.load:.3g} {unit}: {step.requests} measured, "
            f"{step.failed} failed, {step.throughput:.3g} req/s served, TTFT {step.ttft_s:.3g} s, "
            f"ITL {step.itl_s * 1e3:.3g} ms, running {step.mean_running:.1f}, "
            f"waiting {step.mean_waiting:.2f}, KV {step.mean_kv_usage:.4f}: {verdict}{took}",
            file=sys.stderr,
            flush=True,
        )

    return show


def probe(target: Endpoint, mix: RequestMix) -> float:
    """Mean latency (wall seconds) of PROBE_REQUESTS requests sent one at a time; raises when any fails."""
    spec = load_spec(target, mix, "concurrency", 1, PROBE_REQUESTS, target.timeout_s * PROBE_REQUESTS)
    report = asyncio.run(arun_load(spec))
    if report.lost:
        first = next(r for r in report.results if not r.ok)
        raise RuntimeError(f"--url {target.url}: the probe requests failed: {first.error}: {first.message}")
    return sum(r.latency_s for r in report.results) / len(report.results)


def measured_ramp(spec: CapacitySpec, target: Endpoint) -> tuple[Ramp, float]:
    """The measured ramp, and its first load in model units (a predicted ramp starts there too)."""
    bounds = Bounds(spec.max_requests, spec.max_duration_s)
    latency = probe(target, spec.mix)
    bounds.sent += PROBE_REQUESTS
    scale = target.time_scale
    # By default the ramp starts at about one request in flight: one request's rate, or a concurrency of 1.
    start = spec.start or (1 / latency * scale if spec.ramp == "rate" else 1.0)

    def measure(load: float) -> Step:
        """One step at `load` in model units (the target runs at wall = model / time scale)."""
        requests = min(spec.step_requests, spec.max_requests - bounds.sent)
        seconds = min(spec.step_seconds, max(1.0, bounds.seconds_left()))
        wall = load / scale if spec.ramp == "rate" else load
        step = measure_step(target, spec.mix, spec.ramp, wall, requests, seconds, spec.slo.percentile)
        bounds.sent += requests
        return step

    settings = RampSettings(spec.ramp, start, spec.factor, spec.refine, spec.max_steps)
    unit = "req/s" if spec.ramp == "rate" else "in flight"
    shown = progress_line("measured", unit) if spec.progress else None
    return run_ramp(settings, spec.slo, measure, bounds.spent, shown), start


def predicted_ramp(spec: CapacitySpec, fit: FitReport, start: float | None) -> Ramp:
    """The ramp replayed on `fit`'s deployment, from `start` (the measured ramp's) or one request's rate."""
    lifetime = idle_lifetime(fit, spec.mix)
    settings = RampSettings("rate", start or 1 / lifetime, spec.factor, spec.refine, spec.max_steps)

    def measure(rate: float) -> Step:
        # A loaded replica's requests live longer than an idle one's: warm up over two idle lifetimes.
        return predict_step(fit, spec.mix, rate, spec.step_requests, spec.slo.percentile, 2 * lifetime)

    shown = progress_line("predicted", "req/s") if spec.progress else None
    return run_ramp(settings, spec.slo, measure, lambda: None, shown)


def served_prompt_tokens(ramp: Ramp) -> int | None:
    """Mean prompt tokens per request as the target counted them (`vllm:prompt_tokens`) over the measured
    steps, weighted by their requests; None when no step read the counter."""
    counted = [(s.prompt_tokens, s.requests) for s in ramp.steps if s.prompt_tokens is not None]
    total = sum(n for _, n in counted)
    return round(sum(t * n for t, n in counted) / total) if total else None


def run_capacity(spec: CapacitySpec) -> CapacityRun:
    """Measure (spec.target) and/or predict (spec.predict); values derive from the measurement when there
    is one. Raises ScrapeError / RuntimeError when the target cannot be read or answers with errors."""
    if spec.target is None and spec.predict is None:
        raise ValueError("a capacity run needs a target to measure or a deployment to predict")
    began = time.monotonic()
    measured, start, kv_metric, served = None, None, None, None
    target = spec.target
    if target is not None:
        _, kv_metric = fetch(target.metrics_url, target.model)
        measured, start = measured_ramp(spec, target)
        served = served_prompt_tokens(measured)
    predicted = None
    if spec.predict is not None:
        # The prediction replays the prompts at the length the measured server counted them: a chat
        # template's tokens take KV blocks and prefill time on the GPU predicted too.
        mix = spec.mix.as_served(served) if served is not None else spec.mix
        predicted = predicted_ramp(replace(spec, mix=mix), spec.predict, start)
    basis, name = (measured, "measured") if measured is not None else (predicted, "predicted")
    assert basis is not None
    return CapacityRun(
        target=target.url if target else "-",
        model=(target.model if target else None) or (spec.predict.memory.model if spec.predict else "-"),
        mix=spec.mix.source,
        mean_input_tokens=spec.mix.mean_input_tokens,
        mean_output_tokens=spec.mix.mean_output_tokens,
        served_input_tokens=served,
        time_scale=target.time_scale if target else 1.0,
        kv_metric=kv_metric,
        measured=measured,
        predicted=predicted,
        predicted_gpu=spec.predict.memory.gpu if spec.predict else None,
        derived=derive(basis, spec.target_utilization, spec.peak_rps, spec.min_replicas),
        derived_from=name,
        compare=spec.compare,
        seconds=time.monotonic() - began,
    )


def derive_chart_values(spec: CapacitySpec) -> tuple[dict[str, Any], CapacityRun]:
    """The chart values a capacity run derives (what `values-snippet.yaml` holds), and the run; raises
    RuntimeError when no step held the SLO. The autoscaling bench's "derived" configuration is these values
    over its common ones."""
    run = run_capacity(spec)
    if run.derived is None:
        raise RuntimeError(f"no {run.derived_from} step held the SLO ({run.basis.stopped}): nothing derived")
    return values(run.derived), run

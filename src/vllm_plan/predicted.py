"""One ramp step predicted for a GPU the user may not have: the same Poisson stream of the same mix,
replayed on the simulator's engine in virtual time (vllm_plan.slo_replay.measured_stage, the planner's one
path into `vllm-sim replay`), read into the same Step as a measured one."""

from __future__ import annotations

import math

from vllm_plan.ramp import WARMUP_SHARE, Step
from vllm_plan.request_mix import RequestMix
from vllm_plan.sizing import FitReport
from vllm_plan.slo_replay import measured_stage


def predict_step(
    fit: FitReport, mix: RequestMix, rate: float, requests: int, percentile: int, lifetime_s: float = 0.0
) -> Step:
    """A Poisson stream at `rate` requests/s: `requests` measured after a warm-up of WARMUP_SHARE of them
    or of one request `lifetime_s` at that rate (whichever is more), which fills the batch."""
    warm = max(1, math.floor(requests * WARMUP_SHARE), math.ceil(rate * lifetime_s))
    report = measured_stage(fit, mix.prompts, rate, warm, max(2, requests - warm))
    key = f"p{percentile}"
    return Step(
        load=rate,
        requests=int(report["requests"]),
        failed=0,
        arrived_per_s=float(report["requests_per_s"]),
        finished_per_s=float(report["finished_per_s"]),
        output_tokens_per_s=float(report["output_tokens_per_s"]),
        ttft_s=float(report["ttft_ms"][key]) / 1e3,
        itl_s=float(report["itl_ms"][key]) / 1e3,
        mean_running=float(report["mean_running"]),
        max_running=float(report["max_running"]),
        mean_waiting=float(report["mean_waiting"]),
        max_waiting=float(report["max_waiting"]),
        mean_kv_usage=float(report["mean_kv_cache_usage"]),
        max_kv_usage=float(report["max_kv_cache_usage"]),
        prompt_tokens=float(mix.mean_input_tokens),
    )


def idle_lifetime(fit: FitReport, mix: RequestMix) -> float:
    """Seconds one request of the mix takes on an idle replica (the replay's median E2E)."""
    report = measured_stage(fit, mix.prompts, 1e-3, 1, 3)
    return float(report["e2e_ms"]["p50"]) / 1e3

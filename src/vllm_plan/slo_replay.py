"""A replica's sustainable rate within its SLO, read off `vllm-sim replay` percentiles.

The closed form (vllm_plan.capacity) times a steady full batch: it gives averages, and the rate one
replica reaches saturated. An SLO is a percentile of an open stream, where requests arrive at random and
queue behind each other, so the planner replays one (vllm_sim.replay: the simulator's engine, scheduler
and timing model in virtual time) and reads the percentile there:

* a Poisson stream at rate r (the profile's token counts, every prompt distinct, outputs of the mean
  length): WARMUP_REQUESTS to fill the batch, then MEASURED_REQUESTS whose TTFT and ITL percentiles count;
* r is bisected between an almost idle stream and the closed form's saturated rate, to the highest rate
  whose `slo.percentile` TTFT and ITL both meet the SLO (the seeded arrival gaps scale with 1 / r, so
  the figures grow with r and the search is deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm_model.timing import TimingModel
from vllm_plan.errors import PlanInputError
from vllm_plan.sizing import FitReport
from vllm_plan.traffic import TrafficProfile
from vllm_sim.engine import Engine, EngineConfig
from vllm_sim.replay import replay
from vllm_sim.workload import Prompts, Stage, Workload

WARMUP_REQUESTS = 64
MEASURED_REQUESTS = 400
BISECTIONS = 8  # the rate to within 1/256 of the closed form's saturated rate
IDLE_FRACTION = 1 / 64  # the lowest rate tried: requests almost never overlap


@dataclass(frozen=True)
class ReplayedRate:
    requests_per_second: float
    time_to_first_token_s: float  # at the SLO's percentile
    inter_token_latency_s: float  # at the SLO's percentile
    max_running: int  # the largest batch the stream reached
    limited_by: str


def measured_stage(
    fit: FitReport, prompts: Prompts, rate: float, warmup: int, measured: int
) -> dict[str, Any]:
    """The report of the measured stage of a replay on one fresh replica of `fit`'s deployment: a Poisson
    stream at `rate` requests/s of `prompts`, `warmup` requests to fill the batch, then `measured`."""
    memory = fit.memory
    timing = TimingModel.build(fit.model_spec, fit.gpu_spec, memory)
    engine = Engine(EngineConfig.from_plan(memory, timing))
    workload = Workload(
        stages=(Stage(rate, warmup / rate, "poisson"), Stage(rate, measured / rate, "poisson")),
        prompts=prompts,
        seed=0,
    )
    report: dict[str, Any] = replay(engine, workload, timing.api_seconds).report()["stages"][1]
    return report


def replay_stream(fit: FitReport, traffic: TrafficProfile, rate: float) -> dict[str, Any]:
    """The measured stage's report of a replay of `traffic`'s shape at `rate` requests/s on one replica."""
    prompts = Prompts(
        groups=1,
        prompts_per_group=WARMUP_REQUESTS + MEASURED_REQUESTS,
        prefix_tokens=0,
        prompt_tokens=traffic.mean_input_tokens,
        output_tokens=traffic.mean_output_tokens,
    )
    return measured_stage(fit, prompts, rate, WARMUP_REQUESTS, MEASURED_REQUESTS)


def _figures(report: dict[str, Any], key: str) -> tuple[float, float]:
    return report["ttft_ms"][key] / 1e3, report["itl_ms"][key] / 1e3


def sustainable_rate(
    fit: FitReport, traffic: TrafficProfile, saturated_rps: float, saturated_by: str
) -> ReplayedRate:
    """The highest Poisson rate up to `saturated_rps` (the closed form's, bounded by `saturated_by`)
    whose replayed percentile TTFT and ITL meet the profile's SLO."""
    slo, key = traffic.slo, f"p{traffic.slo.percentile}"

    def missed(report: dict[str, Any]) -> list[str]:
        ttft, itl = _figures(report, key)
        out = []
        if itl > slo.inter_token_latency_s:
            out.append(f"{key} inter-token latency SLO")
        if ttft > slo.time_to_first_token_s:
            out.append(f"{key} time-to-first-token SLO")
        return out

    low = saturated_rps * IDLE_FRACTION
    report = replay_stream(fit, traffic, low)
    if missed(report):
        ttft, itl = _figures(report, key)
        memory = fit.memory
        raise PlanInputError(
            f"slo: even an almost idle replica misses the {' and the '.join(missed(report))} on "
            f"{memory.gpu} x{memory.tensor_parallel_size} ({key} inter-token {itl * 1000:.0f} ms, "
            f"{key} TTFT {ttft:.2f} s at {low:.3g} requests/s): relax the traffic profile's slo or plan a "
            "faster GPU"
        )
    high = saturated_rps
    best, binding = (low, report), [saturated_by]
    top = replay_stream(fit, traffic, high)
    if not missed(top):
        best = (high, top)
    else:
        for _ in range(BISECTIONS):
            mid = (best[0] + high) / 2
            report = replay_stream(fit, traffic, mid)
            failed = missed(report)
            if failed:
                high, binding = mid, failed
            else:
                best = (mid, report)
    rate, report = best
    ttft, itl = _figures(report, key)
    return ReplayedRate(
        requests_per_second=rate,
        time_to_first_token_s=ttft,
        inter_token_latency_s=itl,
        max_running=int(report["max_running"]),
        limited_by=" and ".join(binding),
    )

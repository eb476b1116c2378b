"""`vllm-plan capacity`: measure one replica of any OpenAI-compatible server (real vLLM or vllm-sim),
ramping the load with /metrics read alongside, up to the highest throughput whose percentile TTFT and ITL
hold the SLO (the knee); derive the chart's KEDA thresholds, max-num-seqs and replicas for a peak there;
and, with --predict GPU, the same ramp replayed on the simulator's engine for a GPU you may not have.

The default ramp is a request rate with Poisson arrivals (open loop): production traffic arrives whether
or not the server keeps up, so queues (what the waiting-requests trigger reads) form as they would
there, and the SLO is a percentile of such a stream. `--ramp concurrency` holds N requests in flight
instead (closed loop, as many benchmarks do): the queue can never exceed N - running there, so it is
measured but not the default. Exit status: 0 knee found and values derived, 1 no step held the SLO (or
the target failed), 2 bad flags.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from vllm_plan.capacity_report import capacity_json, capacity_snippet, capacity_text, write_report
from vllm_plan.capacity_run import CapacitySpec, run_capacity
from vllm_plan.command import DOES_NOT_FIT, OK, Command
from vllm_plan.endpoint import Endpoint
from vllm_plan.errors import PlanInputError
from vllm_plan.fit_report import fit_text
from vllm_plan.flags import bounded, positive_int, print_output, request_from_args
from vllm_plan.ramp import RAMPS
from vllm_plan.request_mix import (
    DEFAULT_INPUT_TOKENS,
    DEFAULT_OUTPUT_TOKENS,
    RequestMix,
    mix_from_jsonl,
    mix_from_lengths,
    mix_from_workload,
)
from vllm_plan.scrape import ScrapeError
from vllm_plan.sizing import FitReport, assess
from vllm_plan.thresholds import DEFAULT_TARGET_UTILIZATION, Triggers, parse_triggers
from vllm_plan.traffic import PERCENTILES, Slo, load_traffic

DEFAULT_OUT = Path("build/reports/capacity")
positive = bounded(float, 1e-9, None, "positive number")
above_one = bounded(float, 1.0 + 1e-9, None, "number above 1")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_argument_group("target (omit --url with --predict for a prediction only)")
    target.add_argument("--url", help="the server's base URL, e.g. http://127.0.0.1:8000 (a port-forward)")
    target.add_argument("--api-key", help="API key (Authorization: Bearer), as vLLM's --api-key")
    target.add_argument("--metrics-url", help="its Prometheus metrics (default: URL/metrics)")
    target.add_argument(
        "--served-model-name", help="the model name to request (default: --model, else the server's first)"
    )
    target.add_argument("--api", choices=("completions", "chat"), default="completions", help="(completions)")
    target.add_argument(
        "--time-scale",
        type=positive,
        default=1.0,
        help="the target's VLLM_SIM_TIME_SCALE when it is vllm-sim: its times are read back into the "
        "model's (1: a real GPU)",
    )
    mix = parser.add_argument_group("requests (one of: lengths, --workload, --prompts)")
    mix.add_argument(
        "--input-tokens", type=positive_int, help=f"prompt tokens of each request ({DEFAULT_INPUT_TOKENS})"
    )
    mix.add_argument(
        "--output-tokens", type=positive_int, help=f"output tokens of each request ({DEFAULT_OUTPUT_TOKENS})"
    )
    mix.add_argument("--workload", type=Path, help="a `vllm-sim replay` workload YAML: its prompts section")
    mix.add_argument(
        "--prompts", type=Path, help='a JSONL sample of real prompts: {"prompt": "...", "max_tokens": N}'
    )
    slo = parser.add_argument_group("SLO and traffic")
    slo.add_argument("--ttft-slo", type=positive, help="time-to-first-token SLO, seconds")
    slo.add_argument("--itl-slo", type=positive, help="inter-token latency SLO, seconds")
    slo.add_argument("--percentile", type=int, choices=PERCENTILES, help="the SLO's percentile (99)")
    slo.add_argument(
        "--traffic",
        type=Path,
        help="a traffic profile (as `vllm-plan cost --traffic`): its slo, peak rate, target_utilization and "
        "min_replicas; flags override",
    )
    slo.add_argument("--peak-rps", type=positive, help="peak requests/s to size autoscaling.maxReplicas for")
    slo.add_argument(
        "--target-utilization",
        type=bounded(float, 1e-9, 1.0, "number in (0, 1]"),
        help=f"plan each replica at this share of its knee ({DEFAULT_TARGET_UTILIZATION})",
    )
    ramp = parser.add_argument_group("ramp and bounds")
    ramp.add_argument("--ramp", choices=RAMPS, default="rate", help="rate (Poisson, default) or concurrency")
    ramp.add_argument("--start", type=positive, help="first load (default: one request's worth in flight)")
    ramp.add_argument("--step-factor", type=above_one, default=2.0, help="load x this per held step (2)")
    ramp.add_argument("--refine", type=int, choices=range(0, 9), default=2, help="bisections (2)")
    ramp.add_argument("--max-steps", type=positive_int, default=12, help="steps at most (12)")
    ramp.add_argument("--step-requests", type=positive_int, default=200, help="requests per step (200)")
    ramp.add_argument("--step-seconds", type=positive, default=60.0, help="a step starts none after (60)")
    ramp.add_argument("--max-requests", type=positive_int, default=3000, help="requests in all (3000)")
    ramp.add_argument("--max-duration", type=positive, default=900.0, help="seconds in all (900)")
    ramp.add_argument("--timeout", type=positive, default=120.0, help="per-request timeout, seconds (120)")
    ramp.add_argument("--scrape-interval", type=positive, default=0.5, help="/metrics every N s (0.5)")
    ramp.add_argument("--seed", type=int, default=0, help="seed of the arrivals (0)")
    slo.add_argument(
        "--compare",
        action="append",
        type=_triggers,
        default=[],
        metavar="NAME=KV,WAITING",
        help="other thresholds to hold against the ramp (a - for an absent trigger), e.g. chart=0.7,4 "
        "peer=-,5; repeatable",
    )
    parser.add_argument("--predict", metavar="GPU", help="replay the ramp on this GPU (deployment flags)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report directory ({DEFAULT_OUT})")


def _triggers(text: str) -> Triggers:
    try:
        return parse_triggers(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass(frozen=True)
class Settings:
    slo: Slo
    peak_rps: float | None
    target_utilization: float
    min_replicas: int


def _settings(args: argparse.Namespace) -> Settings:
    traffic = load_traffic(args.traffic) if args.traffic else None
    ttft = args.ttft_slo or (traffic.slo.time_to_first_token_s if traffic else None)
    itl = args.itl_slo or (traffic.slo.inter_token_latency_s if traffic else None)
    if ttft is None or itl is None:
        missing = [f for f, v in (("--ttft-slo", ttft), ("--itl-slo", itl)) if v is None]
        raise PlanInputError(f"{' and '.join(missing)} required (or --traffic FILE with an slo)")
    percentile = args.percentile or (traffic.slo.percentile if traffic else Slo.percentile)
    peak = args.peak_rps or (max(traffic.requests_per_second) if traffic else None)
    planned = traffic.target_utilization if traffic else DEFAULT_TARGET_UTILIZATION
    target = args.target_utilization or planned
    return Settings(Slo(ttft, itl, percentile), peak, target, traffic.min_replicas if traffic else 1)


def _mix(args: argparse.Namespace) -> RequestMix:
    lengths = args.input_tokens is not None or args.output_tokens is not None
    given = [f for f, v in (("--workload", args.workload), ("--prompts", args.prompts)) if v]
    if len(given) > 1 or (given and args.input_tokens is not None):
        raise PlanInputError(f"{' and '.join(given + (['--input-tokens'] if lengths else []))}: give one")
    if args.workload:
        if lengths:
            raise PlanInputError("--workload sets the lengths: drop --input-tokens/--output-tokens")
        return mix_from_workload(args.workload)
    output = args.output_tokens or DEFAULT_OUTPUT_TOKENS
    if args.prompts:
        return mix_from_jsonl(args.prompts, output)
    return mix_from_lengths(args.input_tokens or DEFAULT_INPUT_TOKENS, output)


def _fit(args: argparse.Namespace) -> FitReport:
    args.gpu = args.predict
    return assess(request_from_args(args))


def _check(args: argparse.Namespace) -> None:
    if not args.url and not args.predict:
        raise PlanInputError("--url (a server to measure) or --predict GPU (a replay) is required")
    if args.predict and args.ramp != "rate":
        raise PlanInputError("--predict replays open-loop arrivals: use --ramp rate with it")
    if args.time_scale != 1 and not args.url:
        raise PlanInputError("--time-scale reads a measured simulator back: it needs --url")


def _spec(
    args: argparse.Namespace, settings: Settings, mix: RequestMix, fit: FitReport | None
) -> CapacitySpec:
    model = args.served_model_name or args.model or (fit.memory.model if fit else None)
    target = None
    if args.url:
        url = args.url.rstrip("/")
        target = Endpoint(
            url=url,
            metrics_url=args.metrics_url or f"{url.removesuffix('/v1')}/metrics",
            model=model,
            api_key=args.api_key,
            api=args.api,
            timeout_s=args.timeout,
            time_scale=args.time_scale,
            scrape_every_s=args.scrape_interval,
            seed=args.seed,
        )
    return CapacitySpec(
        slo=settings.slo,
        mix=mix,
        target=target,
        predict=fit,
        ramp=args.ramp,
        start=args.start,
        factor=args.step_factor,
        refine=args.refine,
        max_steps=args.max_steps,
        step_requests=args.step_requests,
        step_seconds=args.step_seconds,
        max_requests=args.max_requests,
        max_duration_s=args.max_duration,
        target_utilization=settings.target_utilization,
        peak_rps=settings.peak_rps,
        min_replicas=settings.min_replicas,
        compare=tuple(args.compare),
    )


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        _check(args)
        settings = _settings(args)
        mix = _mix(args)
        fit = _fit(args) if args.predict else None
    except PlanInputError as exc:
        parser.error(str(exc))
    if fit is not None and not fit.fits:
        print(fit_text(fit), end="")
        return DOES_NOT_FIT
    try:
        run = run_capacity(_spec(args, settings, mix, fit))
    except (ScrapeError, RuntimeError) as exc:
        print(f"vllm-plan capacity: error: {exc}", file=sys.stderr)
        return DOES_NOT_FIT
    if run.derived is None:
        print(
            f"vllm-plan capacity: no {run.derived_from} step held the SLO ({run.basis.stopped}; first step: "
            f"{'; '.join(run.basis.missed[0]) if run.basis.missed else 'none ran'}): relax --ttft-slo / "
            "--itl-slo, shorten the requests, or use a faster GPU; nothing derived",
            file=sys.stderr,
        )
    written = write_report(args.out, run)
    print_output(
        args, lambda: capacity_json(run), lambda: capacity_snippet(run) or "", lambda: capacity_text(run)
    )
    print(f"written: {' '.join(map(str, written))}", file=sys.stderr)
    return OK if run.derived else DOES_NOT_FIT


COMMAND = Command(
    name="capacity",
    summary="measure one replica up to its knee; derive KEDA thresholds, max-num-seqs and replicas",
    description=__doc__ or "",
    add_arguments=_add_arguments,
    run=_run,
)

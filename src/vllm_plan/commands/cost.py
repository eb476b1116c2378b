"""`vllm-plan cost`: replicas per hour for a day of traffic (from the simulator's timing model) and the
monthly cost of all on-demand, the 70/30 spot/on-demand mix and your own mix."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vllm_plan.capacity import replica_capacity
from vllm_plan.command import DOES_NOT_FIT, OK, Command
from vllm_plan.cost import CostPlan, build_cost_plan
from vllm_plan.cost_report import cost_json, cost_text, cost_values_snippet
from vllm_plan.errors import PlanInputError
from vllm_plan.fit_report import fit_json, fit_text
from vllm_plan.flags import fraction, non_negative, print_output, request_from_args
from vllm_plan.plot import write_cost_chart
from vllm_plan.prices import CLOUDS, default_prices_path, load_price
from vllm_plan.sizing import FitReport, assess
from vllm_plan.traffic import TrafficProfile, example_traffic_path, load_traffic

SEED_SPOT_SHARE = 0.7  # the recipe's "70 % spot, 30 % on-demand"


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--traffic", type=Path, default=example_traffic_path(), help="traffic profile YAML")
    parser.add_argument("--cloud", required=True, choices=CLOUDS, help="cloud whose prices apply")
    parser.add_argument("--prices", type=Path, default=default_prices_path(), help="price table YAML")
    parser.add_argument("--mix", type=fraction, default=0.5, help="your spot fraction (default 0.5)")
    parser.add_argument(
        "--spot-reclaim-rate", type=non_negative, default=0.05, help="reclaims per spot replica-hour (0.05)"
    )
    parser.add_argument(
        "--replace-minutes",
        type=non_negative,
        default=10.0,
        help="minutes a reclaimed replica is missing: new node + model load (10)",
    )
    parser.add_argument("--png", type=Path, help="write the cost/replicas chart here")
    parser.add_argument("--out-dir", type=Path, help="write the whole report (txt, json, png, snippet) here")


def _plan(args: argparse.Namespace) -> tuple[FitReport, TrafficProfile, CostPlan | None]:
    """The fit, the traffic and the cost plan; no cost plan for a deployment that does not fit."""
    traffic = load_traffic(args.traffic)
    fit = assess(request_from_args(args))
    if not fit.fits:
        return fit, traffic, None
    price = load_price(args.prices, fit.memory.gpu, args.cloud)
    mixes = [("on-demand", 0.0), ("70/30", SEED_SPOT_SHARE), ("your mix", args.mix)]
    plan = build_cost_plan(
        rates_rps=traffic.requests_per_second,
        replica=replica_capacity(fit, traffic),
        target_utilization=traffic.target_utilization,
        min_replicas=traffic.min_replicas,
        gpus_per_replica=fit.request.gpu_count or fit.memory.tensor_parallel_size,
        price=price,
        mixes=mixes,
        reclaim_rate_per_hour=args.spot_reclaim_rate,
        replace_minutes=args.replace_minutes,
    )
    return fit, traffic, plan


DEPLOYMENT_KEYS = (
    "model",
    "gpu",
    "tensor_parallel_size",
    "dtype",
    "quantization",
    "max_model_len",
    "max_num_seqs",
)


def _deployment(fit: FitReport) -> dict[str, Any]:
    """The fit report's description of the deployment, as the cost report repeats it."""
    report = fit_json(fit)
    return {key: report[key] for key in (*DEPLOYMENT_KEYS, "kv_tokens")}


def _chart_title(traffic: TrafficProfile, plan: CostPlan, fit: FitReport) -> str:
    p = plan.price
    return f"{traffic.name}: {fit.memory.model} on {p.gpu} ({p.cloud} {p.instance})"


def _write_out_dir(out: Path, fit: FitReport, traffic: TrafficProfile, plan: CostPlan) -> None:
    out.mkdir(parents=True, exist_ok=True)
    deployment = _deployment(fit)
    (out / "fit.txt").write_text(fit_text(fit))
    (out / "cost.txt").write_text(cost_text(plan, traffic, deployment))
    (out / "cost.json").write_text(json.dumps(cost_json(plan, traffic, deployment), indent=2) + "\n")
    (out / "values-snippet.yaml").write_text(cost_values_snippet(plan, plan.scenarios[-1], fit.memory.gpu))
    write_cost_chart(out / "cost.png", _chart_title(traffic, plan, fit), plan.rates_rps, plan.scenarios)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        fit, traffic, plan = _plan(args)
    except PlanInputError as exc:
        parser.error(str(exc))
    if plan is None:
        print(fit_text(fit), end="")
        return DOES_NOT_FIT
    deployment = _deployment(fit)
    if args.png:
        write_cost_chart(args.png, _chart_title(traffic, plan, fit), plan.rates_rps, plan.scenarios)
    if args.out_dir:
        _write_out_dir(args.out_dir, fit, traffic, plan)
    print_output(
        args,
        lambda: cost_json(plan, traffic, deployment),
        lambda: cost_values_snippet(plan, plan.scenarios[-1], fit.memory.gpu),
        lambda: cost_text(plan, traffic, deployment),
    )
    return OK


COMMAND = Command(
    name="cost",
    summary="replicas per hour and the monthly cost of a day of traffic, on-demand and spot",
    description=__doc__ or "",
    add_arguments=_add_arguments,
    run=_run,
)

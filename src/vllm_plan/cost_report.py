"""Renders a CostPlan: a table for people, one JSON object for scripts, a values snippet for the chart."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import yaml

from vllm_plan.cost import CostPlan, Scenario
from vllm_plan.traffic import TrafficProfile


def _mix_label(scenario: Scenario) -> str:
    return f"{scenario.name} ({scenario.spot_fraction:.0%} spot)"


def cost_json(plan: CostPlan, traffic: TrafficProfile, deployment: dict[str, Any]) -> dict[str, Any]:
    return {
        "traffic": {
            "name": traffic.name,
            "peak_requests_per_second": max(traffic.requests_per_second),
            "mean_input_tokens": traffic.mean_input_tokens,
            "mean_output_tokens": traffic.mean_output_tokens,
            "slo": asdict(traffic.slo),
            "target_utilization": traffic.target_utilization,
            "min_replicas": traffic.min_replicas,
        },
        "deployment": deployment,
        "replica": asdict(plan.replica) | {"planned_requests_per_second": plan.planned_replica_rps},
        "price": asdict(plan.price),
        "spot_reclaim": {
            "rate_per_hour": plan.reclaim_rate_per_hour,
            "replace_minutes": plan.replace_minutes,
            "spot_capacity_factor": plan.spot_capacity_factor,
        },
        "hours": [
            {"hour": hour, "requests_per_second": rate, "replica_demand": round(d, 3), "replicas": n}
            for hour, (rate, d, n) in enumerate(
                zip(plan.rates_rps, plan.demand_per_hour, plan.scenarios[0].replicas_needed, strict=True)
            )
        ],
        "scenarios": [
            {
                "name": s.name,
                "spot_fraction": s.spot_fraction,
                "daily_cost_usd": round(s.daily_cost_usd, 2),
                "monthly_cost_usd": round(s.monthly_cost_usd, 2),
                "savings_vs_on_demand": round(plan.savings_vs_on_demand(s), 4),
                "replica_hours_per_day": s.replica_hours_per_day,
                "extra_spot_replica_hours_per_day": s.extra_spot_replica_hours_per_day,
                "hourly": [
                    asdict(split) | {"cost_usd": round(cost, 4)}
                    for split, cost in zip(s.splits, s.hourly_cost_usd, strict=True)
                ],
            }
            for s in plan.scenarios
        ],
    }


def cost_text(plan: CostPlan, traffic: TrafficProfile, deployment: dict[str, Any]) -> str:
    r, p = plan.replica, plan.price
    which = f"p{r.percentile} " if r.percentile is not None else ""
    lines = [
        f"Cost plan for traffic {traffic.name!r}: {deployment['model']} on {p.gpu} x{plan.gpus_per_replica} "
        f"per replica, {p.cloud} {p.instance} ({p.region})",
        f"Prices: ${p.on_demand}/GPU-h on-demand, "
        + (f"${p.spot}/GPU-h spot" if p.spot is not None else "no spot price")
        + f" [{p.source}, {p.date}]",
        f"Requests: {traffic.mean_input_tokens} tokens in, {traffic.mean_output_tokens} out; SLO "
        f"p{traffic.slo.percentile} TTFT <= {traffic.slo.time_to_first_token_s:g} s, "
        f"p{traffic.slo.percentile} inter-token <= {traffic.slo.inter_token_latency_s:g} s",
        f"One replica sustains {r.requests_per_second:.2f} requests/s, batch up to {r.batch_size} "
        f"({which}TTFT {r.time_to_first_token_s:.2f} s, {which}inter-token "
        f"{r.inter_token_latency_s * 1000:.0f} ms; limited by {r.limited_by}); planned at "
        f"{traffic.target_utilization:.0%}: {plan.planned_replica_rps:.2f} requests/s",
        f"Spot reclaims: {plan.reclaim_rate_per_hour:g} per spot replica-hour x "
        f"{plan.replace_minutes:g} min to replace -> a spot replica serves "
        f"{plan.spot_capacity_factor:.1%} of each hour",
        "",
    ]
    header = ["hour", "req/s", "load"] + [f"{s.name} od+spot" for s in plan.scenarios]
    rows = [header]
    for hour, rate in enumerate(plan.rates_rps):
        cells = [f"{hour:02d}", f"{rate:.2f}", f"{plan.demand_per_hour[hour]:.2f}"]
        for s in plan.scenarios:
            split = s.splits[hour]
            extra = f" (+{split.extra_spot})" if split.extra_spot else ""
            cells.append(f"{split.on_demand}+{split.spot}{extra}")
        rows.append(cells)
    lines += _table(rows)
    lines.append("load = replicas' worth of requests at the planned rate; od+spot = on-demand + spot;")
    lines.append("(+N) = extra spot replicas that make up for the capacity reclaims take away")
    lines.append("")
    summary = [["scenario", "replica-h/day", "extra spot h/day", "$/day", "$/month", "saves"]]
    for s in plan.scenarios:
        summary.append(
            [
                _mix_label(s),
                str(s.replica_hours_per_day),
                str(s.extra_spot_replica_hours_per_day),
                f"{s.daily_cost_usd:,.2f}",
                f"{s.monthly_cost_usd:,.0f}",
                f"{plan.savings_vs_on_demand(s):.1%}",
            ]
        )
    lines += _table(summary)
    return "\n".join(lines) + "\n"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def cost_values_snippet(plan: CostPlan, scenario: Scenario, gpu: str) -> str:
    """Chart values for `scenario`: each pool's replica bounds and the spot share (the chart's key names)."""
    on_demand = [s.on_demand for s in scenario.splits]
    spot = [s.spot for s in scenario.splits]
    values: dict[str, Any] = {
        "gpu": {"type": gpu},
        "pools": {
            "onDemand": {
                "enabled": True,
                "minReplicas": max(1, min(on_demand)),
                "maxReplicas": max(on_demand),
            },
            # minReplicas 0 (quiet hours need no spot replica) is allowed with KEDA only (autoscaling.mode).
            "spot": {"enabled": max(spot) > 0, "minReplicas": min(spot), "maxReplicas": max(1, max(spot))},
        },
        "autoscaling": {
            "mode": "keda",
            "maxReplicas": max(o + s for o, s in zip(on_demand, spot, strict=True)),
            "spotShare": scenario.spot_fraction,
        },
    }
    header = (
        f"# vllm-plan cost: {_mix_label(scenario)}, peak {max(scenario.replicas_needed)} replicas needed\n"
    )
    return header + yaml.safe_dump(values, sort_keys=False)

"""The PNG chart of a cost plan: replicas per hour (bars) and hourly cost per scenario over the day."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in CI

import matplotlib.pyplot as plt

from vllm_plan.cost import Scenario


def write_cost_chart(path: Path, title: str, rates: Sequence[float], scenarios: Sequence[Scenario]) -> None:
    hours = list(range(len(rates)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, constrained_layout=True)
    top.bar(hours, scenarios[0].replicas_needed, color="#9ecae1", label="replicas needed")
    top.set_ylabel("replicas")
    rate_axis = top.twinx()
    rate_axis.plot(hours, rates, color="#08519c", marker=".", label="requests/s")
    rate_axis.set_ylabel("requests/s")
    top.set_title(title)
    handles = top.get_legend_handles_labels()[0] + rate_axis.get_legend_handles_labels()[0]
    top.legend(handles=handles, loc="upper left")
    for scenario in scenarios:
        label = f"{scenario.name}: ${scenario.monthly_cost_usd:,.0f}/month"
        bottom.step(hours, scenario.hourly_cost_usd, where="mid", label=label)
    bottom.set_ylabel("USD per hour")
    bottom.set_xlabel("hour of day (UTC)")
    bottom.set_xticks(hours)
    bottom.legend(loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)

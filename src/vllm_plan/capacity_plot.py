"""The PNG of a capacity ramp: throughput, and the percentile TTFT and ITL against the offered load, the
SLO as dashed lines and the knee marked; a predicted ramp drawn beside the measured one."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in CI

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from vllm_plan.ramp import Ramp

STYLES = {"measured": ("#08519c", "-", "o"), "predicted": ("#d94801", "--", "s")}


def capacity_figure(title: str, ramps: dict[str, Ramp]) -> Figure:
    """The three panels; each ramp's knee label one line below the previous ramp's, so that knees at the
    same load (a prediction that matches its measurement) stay readable."""
    fig, (top, ttft, itl) = plt.subplots(3, 1, figsize=(9, 10), sharex=True, constrained_layout=True)
    slo = next(iter(ramps.values())).slo
    key = f"p{slo.percentile}"
    for index, (name, ramp) in enumerate(ramps.items()):
        color, line, marker = STYLES[name]
        steps = [s for s, _ in ramp.by_load()]
        loads = [s.load for s in steps]
        top.plot(loads, [s.throughput for s in steps], line, color=color, marker=marker, label=name)
        ttft.plot(loads, [s.ttft_s for s in steps], line, color=color, marker=marker, label=name)
        itl.plot(loads, [s.itl_s * 1e3 for s in steps], line, color=color, marker=marker, label=name)
        knee = ramp.knee
        if knee is not None:
            for axis in (top, ttft, itl):
                axis.axvline(knee.load, color=color, linestyle=":", linewidth=1)
            top.annotate(
                f"{name} knee {knee.throughput:.3g} req/s",
                (knee.load, knee.throughput),
                textcoords="offset points",
                xytext=(6, -14 * (index + 1)),
                color=color,
            )
    ttft.axhline(slo.time_to_first_token_s, color="#a50f15", linestyle="--", linewidth=1, label="SLO")
    itl.axhline(slo.inter_token_latency_s * 1e3, color="#a50f15", linestyle="--", linewidth=1, label="SLO")
    kind = next(iter(ramps.values())).kind
    top.set_ylabel("finished requests/s")
    ttft.set_ylabel(f"{key} TTFT (s)")
    itl.set_ylabel(f"{key} ITL (ms)")
    itl.set_xlabel("offered load (requests/s)" if kind == "rate" else "requests in flight")
    for axis in (ttft, itl):
        axis.set_yscale("log")
    for axis in (top, ttft, itl):
        axis.legend(loc="upper left")
        axis.grid(True, alpha=0.3)
    top.set_title(title)
    return fig


def write_capacity_chart(path: Path, title: str, ramps: dict[str, Ramp]) -> None:
    fig = capacity_figure(title, ramps)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)

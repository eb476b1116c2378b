"""Percentiles of latency samples."""

from __future__ import annotations

import math
from collections.abc import Sequence

PERCENTILES = (50, 90, 95, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) of values, linearly interpolated between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: Sequence[float]) -> dict[str, float] | None:
    """count, mean, p50/p90/p95/p99 and max of values in seconds; None when there are none."""
    if not values:
        return None
    out: dict[str, float] = {"count": len(values), "mean": sum(values) / len(values)}
    out.update({f"p{p}": percentile(values, p) for p in PERCENTILES})
    out["max"] = max(values)
    return out

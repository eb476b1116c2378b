"""Cost arithmetic: replicas per hour, the spot/on-demand split, spot reclaim losses, monthly totals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from vllm_plan.errors import PlanInputError
from vllm_plan.prices import Price

# The clouds bill a "month" as 730 hours (8760 / 12); a daily profile repeats 730 / 24 times.
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
# Rounding guard: 2.0000000001 replicas is 2, not 3.
_EPS = 1e-9


def replica_demand(rate_rps: float, replica_rps: float, min_replicas: int) -> float:
    """Replicas' worth of load (fractional) for `rate_rps` when each sustains `replica_rps`.

    Never below `min_replicas`: those run even when idle.
    """
    if replica_rps <= 0:
        raise PlanInputError(f"a replica sustains {replica_rps} requests/s: it cannot serve this traffic")
    return max(float(min_replicas), rate_rps / replica_rps)


def spot_capacity_factor(reclaim_rate_per_hour: float, replace_minutes: float) -> float:
    """Fraction of each hour a spot replica serves.

    A reclaimed replica serves nothing until its replacement node is up and the model is loaded again, so
    each reclaim costs `replace_minutes` of capacity: factor = 1 - rate x replace time (in hours).
    """
    if reclaim_rate_per_hour < 0:
        raise PlanInputError(f"--spot-reclaim-rate must be >= 0, got {reclaim_rate_per_hour}")
    if replace_minutes < 0:
        raise PlanInputError(f"--replace-minutes must be >= 0, got {replace_minutes}")
    lost = reclaim_rate_per_hour * replace_minutes / 60.0
    if lost >= 1.0:
        raise PlanInputError(
            f"--spot-reclaim-rate {reclaim_rate_per_hour}/h x --replace-minutes {replace_minutes} loses the "
            "whole hour: spot replicas would never serve"
        )
    return 1.0 - lost


@dataclass(frozen=True)
class Split:
    """One hour's replicas: on-demand, spot (including the extra spot replicas that cover reclaims)."""

    needed: int
    on_demand: int
    spot: int
    extra_spot: int


def split_replicas(demand: float, spot_fraction: float, capacity_factor: float) -> Split:
    """Split `demand` (replicas' worth of load) by `spot_fraction` into whole replicas.

    The on-demand share is rounded UP (the part of the fleet an SLA relies on never falls below its
    fraction); spot replicas then cover the rest of the demand at their reclaim-reduced capacity.
    """
    if not 0.0 <= spot_fraction <= 1.0:
        raise PlanInputError(f"--mix must be a spot fraction between 0 and 1, got {spot_fraction}")
    on_demand = math.ceil(demand * (1.0 - spot_fraction) - _EPS)
    rest = max(0.0, demand - on_demand)
    spot_without_reclaims = math.ceil(rest - _EPS)
    spot = math.ceil(rest / capacity_factor - _EPS)
    return Split(
        needed=math.ceil(demand - _EPS),
        on_demand=on_demand,
        spot=spot,
        extra_spot=spot - spot_without_reclaims,
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    spot_fraction: float
    splits: tuple[Split, ...]
    hourly_cost_usd: tuple[float, ...]

    @property
    def replicas_needed(self) -> tuple[int, ...]:
        return tuple(s.needed for s in self.splits)

    @property
    def daily_cost_usd(self) -> float:
        return sum(self.hourly_cost_usd)

    @property
    def monthly_cost_usd(self) -> float:
        return self.daily_cost_usd * DAYS_PER_MONTH

    @property
    def replica_hours_per_day(self) -> int:
        return sum(s.on_demand + s.spot for s in self.splits)

    @property
    def extra_spot_replica_hours_per_day(self) -> int:
        return sum(s.extra_spot for s in self.splits)


def hour_cost(split: Split, gpus_per_replica: int, price: Price) -> float:
    spot_price = price.spot if price.spot is not None else 0.0
    return gpus_per_replica * (split.on_demand * price.on_demand + split.spot * spot_price)


def plan_scenario(
    name: str,
    spot_fraction: float,
    demand_per_hour: Sequence[float],
    gpus_per_replica: int,
    price: Price,
    capacity_factor: float,
) -> Scenario:
    if spot_fraction > 0 and price.spot is None:
        key = f"gpus.{price.gpu}.{price.cloud}.spot"
        raise PlanInputError(f"prices: {key} is null: no spot price to plan with")
    splits = tuple(split_replicas(d, spot_fraction, capacity_factor) for d in demand_per_hour)
    costs = tuple(hour_cost(s, gpus_per_replica, price) for s in splits)
    return Scenario(name=name, spot_fraction=spot_fraction, splits=splits, hourly_cost_usd=costs)


@dataclass(frozen=True)
class ReplicaCapacity:
    """What one replica sustains at the profile's token counts within its SLO (simulator timing): the
    latencies are the SLO's percentile of a replayed stream at that rate (the mean for embeddings)."""

    requests_per_second: float
    batch_size: int
    time_to_first_token_s: float
    inter_token_latency_s: float
    limited_by: str
    percentile: int | None = None  # of the latencies; None: an embedding model's closed-form figures


@dataclass(frozen=True)
class CostPlan:
    rates_rps: tuple[float, ...]
    replica: ReplicaCapacity
    planned_replica_rps: float
    demand_per_hour: tuple[float, ...]  # replicas' worth of load, before rounding
    gpus_per_replica: int
    price: Price
    reclaim_rate_per_hour: float
    replace_minutes: float
    spot_capacity_factor: float
    scenarios: tuple[Scenario, ...]

    def savings_vs_on_demand(self, scenario: Scenario) -> float:
        """Fraction of the all-on-demand monthly cost that `scenario` saves (negative = costs more)."""
        base = self.scenarios[0].monthly_cost_usd
        return 1.0 - scenario.monthly_cost_usd / base if base else 0.0


def build_cost_plan(
    rates_rps: Sequence[float],
    replica: ReplicaCapacity,
    target_utilization: float,
    min_replicas: int,
    gpus_per_replica: int,
    price: Price,
    mixes: Sequence[tuple[str, float]],
    reclaim_rate_per_hour: float,
    replace_minutes: float,
) -> CostPlan:
    """Load per hour in replicas at `target_utilization` of a replica's rate, then one Scenario per mix.

    `mixes` is (name, spot fraction) pairs; the first is the baseline the savings are measured against.
    """
    planned = replica.requests_per_second * target_utilization
    demand = tuple(replica_demand(rate, planned, min_replicas) for rate in rates_rps)
    factor = spot_capacity_factor(reclaim_rate_per_hour, replace_minutes)
    scenarios = tuple(
        plan_scenario(name, fraction, demand, gpus_per_replica, price, factor) for name, fraction in mixes
    )
    return CostPlan(
        rates_rps=tuple(rates_rps),
        replica=replica,
        planned_replica_rps=planned,
        demand_per_hour=demand,
        gpus_per_replica=gpus_per_replica,
        price=price,
        reclaim_rate_per_hour=reclaim_rate_per_hour,
        replace_minutes=replace_minutes,
        spot_capacity_factor=factor,
        scenarios=scenarios,
    )

"""Cost arithmetic on a tiny price table: monthly = hours x price x replicas, mix split, reclaim losses."""

from pathlib import Path

import pytest

from vllm_plan.cost import (
    HOURS_PER_MONTH,
    plan_scenario,
    replica_demand,
    split_replicas,
    spot_capacity_factor,
)
from vllm_plan.errors import PlanInputError
from vllm_plan.prices import load_price

TINY_PRICES = """
gpus:
  L4:
    aws: {instance: g6.xlarge, region: test, on_demand: 1.0, spot: 0.25, source: test table, date: 2026-11}
    gcp: {instance: g2, region: test, on_demand: 2.0, spot: null, source: test table, date: 2026-11}
    azure: null
"""


@pytest.fixture
def tiny_prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(TINY_PRICES)
    return path


def test_monthly_cost_is_hours_times_price_times_replicas_times_gpus(tiny_prices: Path) -> None:
    price = load_price(tiny_prices, "L4", "aws")
    scenario = plan_scenario("on-demand", 0.0, [3] * 24, gpus_per_replica=2, price=price, capacity_factor=1.0)
    assert scenario.monthly_cost_usd == pytest.approx(HOURS_PER_MONTH * 1.0 * 3 * 2)


def test_seventy_thirty_mix_prices_each_share_at_its_own_rate(tiny_prices: Path) -> None:
    price = load_price(tiny_prices, "L4", "aws")
    scenario = plan_scenario("70/30", 0.7, [10] * 24, gpus_per_replica=1, price=price, capacity_factor=1.0)
    assert scenario.splits[0].on_demand == 3
    assert scenario.splits[0].spot == 7
    assert scenario.monthly_cost_usd == pytest.approx(HOURS_PER_MONTH * (3 * 1.0 + 7 * 0.25))


def test_on_demand_share_rounds_up_so_one_replica_stays_on_demand() -> None:
    split = split_replicas(1, 0.7, 1.0)
    assert (split.on_demand, split.spot) == (1, 0)


def test_reclaim_losses_add_spot_replicas() -> None:
    factor = spot_capacity_factor(reclaim_rate_per_hour=0.5, replace_minutes=12)  # 10 % of each hour lost
    assert factor == pytest.approx(0.9)
    split = split_replicas(30, 0.7, factor)
    assert split.on_demand == 9
    assert split.spot == 24  # ceil(21 / 0.9)
    assert split.extra_spot == 3


def test_no_reclaims_means_no_extra_spot_replicas() -> None:
    assert split_replicas(30, 0.7, spot_capacity_factor(0.0, 10)).extra_spot == 0


def test_replicas_cover_the_rate_and_respect_the_minimum() -> None:
    assert split_replicas(replica_demand(4.0, 2.0, min_replicas=1), 0.0, 1.0).needed == 2
    assert split_replicas(replica_demand(4.1, 2.0, min_replicas=1), 0.0, 1.0).needed == 3
    assert split_replicas(replica_demand(0.0, 2.0, min_replicas=1), 0.0, 1.0).needed == 1
    assert split_replicas(replica_demand(0.0, 2.0, min_replicas=0), 0.0, 1.0).needed == 0


def test_fractional_demand_leaves_headroom_that_absorbs_small_reclaim_losses() -> None:
    # 3.4 replicas of load at 70 % spot: 2 on-demand (ceil 1.02), spot covers 1.4 -> 2 replicas, which
    # still cover 1.4 at 99 % capacity; a 40 % loss needs a third.
    assert split_replicas(3.4, 0.7, 0.99).extra_spot == 0
    assert split_replicas(3.4, 0.7, 0.6).extra_spot == 1


def test_reclaim_rate_that_loses_the_whole_hour_is_refused() -> None:
    with pytest.raises(PlanInputError, match="--spot-reclaim-rate"):
        spot_capacity_factor(reclaim_rate_per_hour=6.0, replace_minutes=10)


def test_spot_mix_without_a_spot_price_is_refused_naming_the_key(tiny_prices: Path) -> None:
    price = load_price(tiny_prices, "L4", "gcp")
    with pytest.raises(PlanInputError, match=r"gpus\.L4\.gcp\.spot"):
        plan_scenario("70/30", 0.7, [2] * 24, gpus_per_replica=1, price=price, capacity_factor=1.0)


def test_gpu_a_cloud_does_not_offer_is_refused_naming_the_key(tiny_prices: Path) -> None:
    with pytest.raises(PlanInputError, match=r"gpus\.L4\.azure is null"):
        load_price(tiny_prices, "L4", "azure")


def test_every_shipped_price_has_a_source_and_a_date() -> None:
    from vllm_plan.prices import CLOUDS, default_prices_path, load_yaml_mapping, lookup

    table = load_yaml_mapping(default_prices_path(), "price table")
    checked = 0
    for gpu, clouds in table["gpus"].items():
        for cloud in CLOUDS:
            if clouds[cloud] is not None:
                price = lookup(table, gpu, cloud)
                assert price.source and price.date
                assert price.spot is None or price.spot < price.on_demand
                checked += 1
    assert checked >= 12

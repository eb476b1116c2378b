"""The autoscaling figures (tests/e2e/autoscaling.py, used by the e2e scenarios and the bench) on timelines
whose answers are known: reaction time, replica-seconds, scale-outs and time over the TTFT SLO."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.e2e as a package

from tests.e2e.autoscaling import (
    Sample,
    reaction_s,
    replica_seconds,
    requests_over_slo,
    scale_outs,
    seconds_over_slo,
)


def timeline(*points: tuple[float, int, int]) -> list[Sample]:
    return [Sample(t, replicas, ready, None, None) for t, replicas, ready in points]


def test_reaction_is_load_start_to_the_first_extra_ready_replica_not_the_first_one_asked_for() -> None:
    samples = timeline((0, 1, 1), (10, 1, 1), (12, 3, 1), (20, 3, 2), (25, 3, 3))
    assert reaction_s(samples, 10, 1) == 10.0


def test_a_pool_that_never_grows_has_no_reaction() -> None:
    assert reaction_s(timeline((0, 1, 1), (60, 1, 1)), 5, 1) is None


def test_a_replica_ready_before_the_load_is_not_a_reaction() -> None:
    assert reaction_s(timeline((0, 2, 2), (10, 2, 2)), 5, 2) is None


def test_replica_seconds_integrate_the_replicas_asked_for() -> None:
    # 1 replica for 10 s, 3 for 10 s, then 2 for 5 s.
    assert replica_seconds(timeline((0, 1, 1), (10, 3, 1), (20, 2, 2), (25, 2, 2))) == 10 + 30 + 10


def test_scale_outs_count_rises_of_the_replicas_asked_for() -> None:
    assert scale_outs(timeline((0, 1, 1), (5, 2, 1), (10, 3, 2), (15, 1, 1), (20, 2, 1))) == 3


def request(start_s: float, ttft_s: float | None, ok: bool = True) -> dict[str, Any]:
    return {"start_s": start_s, "ttft_s": ttft_s, "ok": ok}


def test_time_over_the_slo_counts_the_seconds_whose_p95_ttft_is_over_it() -> None:
    fast = [request(0.1 * i, 0.2) for i in range(10)]  # second 0: all fast
    slow = [request(1 + 0.1 * i, 3.0) for i in range(10)]  # second 1: all slow
    one_slow = [request(2 + 0.05 * i, 0.2) for i in range(19)] + [request(2.95, 5.0)]  # second 2: p95 fast
    assert seconds_over_slo({"requests": fast + slow + one_slow}, 2.0) == 1.0


def test_a_failed_request_counts_as_over_the_slo() -> None:
    assert seconds_over_slo({"requests": [request(0.5, None, ok=False)]}, 2.0) == 1.0


def test_requests_over_the_slo_count_each_late_or_failed_request() -> None:
    requests = [request(0.0, 0.2), request(0.1, 2.5), request(0.2, None, ok=False), request(0.3, 2.0)]
    report = {"requests": requests}
    assert requests_over_slo(report, 2.0) == 2  # 2.5 s and the failed one; exactly at the SLO is within it

"""The capacity ramp's search and the values derived at its knee, on a replica whose figures are a known
function of the load (the search is arithmetic on steps: where a step comes from is tested against a real
simulator in test_capacity_against_sim.py), and the knee as the PNG marks it."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Annotation

from vllm_plan.capacity_plot import capacity_figure
from vllm_plan.capacity_run import served_prompt_tokens
from vllm_plan.ramp import Ramp, RampSettings, Step, run_ramp
from vllm_plan.request_mix import mix_from_lengths
from vllm_plan.thresholds import derive, kv_usage_at
from vllm_plan.traffic import Slo

SLO = Slo(time_to_first_token_s=1.0, inter_token_latency_s=0.05)
CAPACITY = 10.0  # requests/s this replica saturates at; its TTFT crosses the 1 s SLO at 6.4


def replica(load: float, *, closed_loop: bool = False) -> Step:
    """A replica whose TTFT grows as load / (CAPACITY - load) and whose gauges grow with the load."""
    busy = min(load / CAPACITY, 0.999)
    ttft = 0.5 * busy / (1 - busy) + 0.1
    return Step(
        load=load,
        requests=100,
        failed=0,
        arrived_per_s=load,
        finished_per_s=load if load < CAPACITY * 1.2 else CAPACITY * 1.2,
        output_tokens_per_s=load * 100,
        ttft_s=ttft,
        itl_s=0.02,
        mean_running=3 * load,
        max_running=4 * load,
        mean_waiting=load / 4,
        max_waiting=load,
        mean_kv_usage=load / 100,
        max_kv_usage=load / 80,
        closed_loop=closed_loop,
    )


def test_the_ramp_doubles_until_a_step_misses_then_bisects_between_the_last_good_and_first_bad() -> None:
    ramp = run_ramp(RampSettings("rate", 1.0, factor=2.0, refine=2), SLO, replica, lambda: None)
    assert [s.load for s in ramp.steps] == [1, 2, 4, 8, 6, 7]
    assert [bool(m) for m in ramp.missed] == [False, False, False, True, False, True]
    assert ramp.knee is not None and ramp.knee.load == 6
    assert ramp.stopped == "refined between 6 and 7"


def test_the_knee_is_the_held_step_that_served_the_most() -> None:
    ramp = run_ramp(RampSettings("rate", 1.5, factor=2.0, refine=3), SLO, replica, lambda: None)
    held = [s for s, m in zip(ramp.steps, ramp.missed, strict=True) if not m]
    assert ramp.knee == max(held, key=lambda s: s.throughput)
    assert ramp.knee.ttft_s <= SLO.time_to_first_token_s
    assert any(m and s.load > ramp.knee.load for s, m in zip(ramp.steps, ramp.missed, strict=True))


def test_a_step_with_failed_requests_or_one_that_fell_behind_misses() -> None:
    ok = replica(2.0)
    assert ok.misses(SLO, "rate") == []
    failed = Step(**{**ok.__dict__, "failed": 3})
    assert failed.misses(SLO, "rate") == ["3 failed requests"]
    behind = Step(**{**ok.__dict__, "finished_per_s": 1.0})
    assert behind.misses(SLO, "rate")[0].startswith("saturated: finished 1/s of 2/s")
    slow = Step(**{**ok.__dict__, "itl_s": 0.08})
    assert slow.misses(SLO, "rate") == ["p99 ITL 80 ms > 50 ms"]


def test_the_request_and_time_bounds_stop_the_ramp_before_the_next_step() -> None:
    left = [3]

    def budget() -> str | None:
        left[0] -= 1
        return "--max-requests 300 spent" if left[0] < 0 else None

    ramp = run_ramp(RampSettings("rate", 1.0), SLO, replica, budget)
    assert len(ramp.steps) == 3 and ramp.stopped == "--max-requests 300 spent"
    capped = run_ramp(RampSettings("rate", 1.0, max_steps=2), SLO, replica, lambda: None)
    assert len(capped.steps) == 2 and capped.stopped == "--max-steps 2 reached"


def test_a_concurrency_ramp_takes_whole_requests_in_flight_and_stops_where_throughput_is_flat() -> None:
    def closed(n: float) -> Step:
        return Step(**{**replica(min(n, 8.2), closed_loop=True).__dict__, "load": n, "ttft_s": 0.2})

    ramp = run_ramp(RampSettings("concurrency", 1.0, factor=2.0, refine=2), SLO, closed, lambda: None)
    assert all(float(s.load).is_integer() for s in ramp.steps)
    assert [s.load for s in ramp.steps][:5] == [1, 2, 4, 8, 16]
    assert ramp.missed[4][0].startswith("throughput flat")
    assert [s.load for s in ramp.steps][5:] == [12, 10]  # whole requests between 8 and 16, refine 2
    assert ramp.knee is not None and ramp.knee.load == 8


def test_a_ramp_whose_first_step_misses_has_no_knee_and_derives_nothing() -> None:
    strict = Slo(time_to_first_token_s=0.05, inter_token_latency_s=0.05)
    ramp = run_ramp(RampSettings("rate", 1.0), strict, replica, lambda: None)
    assert len(ramp.steps) == 1 and ramp.knee is None
    assert ramp.stopped == "the first step missed the SLO"
    assert derive(ramp, 0.8) is None


def _held_ramp(*loads: float) -> Ramp:
    ramp = Ramp("rate", SLO)
    for load in loads:
        ramp.steps.append(replica(load))
        ramp.missed.append([])
    return ramp


def test_the_kv_threshold_is_the_usage_at_the_target_share_of_the_knee_interpolated() -> None:
    held = _held_ramp(2, 4, 8).held()
    assert kv_usage_at(held, 6.4) == pytest.approx(0.064)  # between 4 (0.04) and 8 (0.08)
    assert kv_usage_at(held, 1.0) == pytest.approx(0.01)  # below the lowest: from zero
    assert kv_usage_at(held, 9.0) == pytest.approx(0.08)  # above the highest: the highest's
    derived = derive(_held_ramp(2, 4, 8), 0.8)
    # over 1.1: the HPA acts only once usage / threshold passes its tolerance, so it acts at 0.064
    assert derived is not None and derived.kv_cache_usage_threshold == 0.058


def test_the_queue_threshold_is_the_knees_queue_per_replica_rounded_up_to_a_half_and_at_least_one() -> None:
    # the knee's mean queue over 1.1 (the HPA's tolerance), rounded up to a half
    assert derive(_held_ramp(2, 9), 0.8).requests_waiting_threshold == 2.5  # type: ignore[union-attr]
    assert derive(_held_ramp(1, 2), 0.8).requests_waiting_threshold == 1.0  # type: ignore[union-attr]


def test_max_num_seqs_is_the_peak_batch_at_the_knee_and_replicas_cover_the_peak_at_the_target() -> None:
    derived = derive(_held_ramp(2, 4, 8), 0.8, peak_rps=50.0, min_replicas=2)
    assert derived is not None
    assert derived.max_num_seqs == 32  # max_running at the knee (8 req/s x 4)
    assert derived.max_replicas == math.ceil(50 / (8 * 0.8))
    assert derive(_held_ramp(2, 4, 8), 0.8, peak_rps=1.0, min_replicas=2).max_replicas == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    # usage / 1.1 (the HPA's tolerance), then two significant figures, at most 3 decimals
    "usage, threshold",
    [(0.0123, 0.011), (0.555, 0.5), (0.9999, 0.91), (0.0049, 0.004), (0.00081, 0.001), (0.0012, 0.001)],
)
def test_a_kv_threshold_keeps_two_significant_figures_but_never_finer_than_kedas_three_decimals(
    usage: float, threshold: float
) -> None:
    """A small model on a big card runs at a few 0.1 % of its cache: rounding to one fixed figure would give
    a threshold above anything it reaches (a trigger that never fires); KEDA reads thresholds to 3 decimals
    (quantityFromFloat64), so a finer one is not what it would compare against."""
    ramp = Ramp("rate", SLO)
    ramp.steps.append(Step(**{**replica(5.0).__dict__, "mean_kv_usage": usage}))
    ramp.missed.append([])
    derived = derive(ramp, 1.0)
    assert derived is not None and derived.kv_cache_usage_threshold == threshold


def test_the_served_prompt_length_is_the_request_weighted_mean_of_the_servers_counts() -> None:
    ramp = Ramp("rate", SLO)
    ramp.steps = [
        Step(**{**replica(1.0).__dict__, "requests": 10, "prompt_tokens": 20.0}),
        Step(**{**replica(2.0).__dict__, "requests": 30, "prompt_tokens": 30.0}),
        Step(**{**replica(3.0).__dict__, "requests": 50, "prompt_tokens": None}),  # no counter read
    ]
    assert served_prompt_tokens(ramp) == 28  # (10 x 20 + 30 x 30) / 40 = 27.5
    ramp.steps = ramp.steps[2:]
    assert served_prompt_tokens(ramp) is None


def test_a_mix_as_served_replays_longer_prompts_and_sends_the_same_requests() -> None:
    mix = mix_from_lengths(16, 128, distinct=4)
    served = mix.as_served(29)
    assert served.mean_input_tokens == 29 and served.mean_output_tokens == 128
    assert served.requests == mix.requests  # what the ramp sends is unchanged
    assert mix.as_served(16) is mix


def test_the_pngs_knee_labels_stay_apart_when_the_prediction_matches_the_measurement() -> None:
    ramp = run_ramp(RampSettings("rate", 1.0, factor=2.0, refine=2), SLO, replica, lambda: None)
    assert ramp.knee is not None
    fig = capacity_figure("same knee", {"measured": ramp, "predicted": ramp})
    try:
        renderer = fig.canvas.get_renderer()
        fig.draw(renderer)
        labels = [t for t in fig.axes[0].texts if isinstance(t, Annotation)]
        assert [t.get_text().split()[0] for t in labels] == ["measured", "predicted"]
        first, second = (t.get_window_extent(renderer) for t in labels)
        assert not first.overlaps(second), (first, second)
    finally:
        plt.close(fig)

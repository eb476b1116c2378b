"""A load spec that cannot run is refused with a message naming the offending flag; percentiles are exact."""

from __future__ import annotations

import itertools

import pytest

from vllm_load import LoadSpec, SpecError
from vllm_load.stats import percentile, summarize


@pytest.mark.parametrize(
    "settings, flag",
    [
        ({"rate": 1.0, "concurrency": 2}, "--rate"),
        ({}, "--concurrency"),
        ({"rate": 0.0}, "--rate"),
        ({"concurrency": 0}, "--concurrency"),
        ({"rate": 1.0, "requests": 0}, "--requests"),
        ({"rate": 1.0, "duration_s": 0.0}, "--duration"),
        ({"rate": 1.0, "timeout_s": -1.0}, "--timeout"),
        ({"rate": 1.0, "max_tokens": 0}, "--max-tokens"),
        ({"rate": 1.0, "retries": -1}, "--retries"),
        ({"rate": 1.0, "api": "embeddings"}, "--api"),
        ({"rate": 1.0, "arrival": "bursty"}, "--arrival"),
        ({"rate": 1.0, "mix": (("hi", 0),)}, "max_tokens of the request mix"),
        ({"concurrency": 2, "ramp_to": 4.0}, "--ramp-to needs --rate"),
        ({"rate": 1.0, "ramp_to": 0.0}, "--ramp-to"),
    ],
)
def test_a_spec_that_cannot_run_is_refused_naming_its_flag(settings: dict[str, object], flag: str) -> None:
    with pytest.raises(SpecError, match=flag):
        LoadSpec(url="http://127.0.0.1:8000", **settings)  # type: ignore[arg-type]


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(SpecError, match="--url"):
        LoadSpec(url="127.0.0.1:8000", rate=1.0)


def test_every_problem_of_a_spec_is_reported_at_once() -> None:
    with pytest.raises(SpecError) as err:
        LoadSpec(url="ftp://x", rate=1.0, requests=0, max_tokens=0)
    assert all(flag in str(err.value) for flag in ("--url", "--requests", "--max-tokens"))


@pytest.mark.parametrize("url", ["http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/"])
def test_the_base_url_ends_in_v1_once(url: str) -> None:
    assert LoadSpec(url=url, rate=1.0).base_url == "http://h:8000/v1"


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 90) == pytest.approx(4.6)
    assert percentile([7.0], 99) == 7.0


def test_a_percentile_of_nothing_or_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_a_summary_has_count_mean_percentiles_and_max_or_is_none() -> None:
    s = summarize([1.0, 2.0, 3.0])
    assert s is not None
    assert (s["count"], s["mean"], s["p50"], s["max"]) == (3, 2.0, 2.0, 3.0)
    assert set(s) == {"count", "mean", "p50", "p90", "p95", "p99", "max"}
    assert summarize([]) is None


def test_poisson_start_times_are_seeded_exponential_gaps_at_the_rate() -> None:
    spec = LoadSpec(url="http://h:8000", rate=20.0, arrival="poisson", seed=3)
    times = list(itertools.islice(spec.start_times(), 4001))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[0] == 0.0 and all(g > 0 for g in gaps)
    assert len(set(round(g, 9) for g in gaps)) == len(gaps)  # not fixed intervals
    assert abs(len(gaps) / times[-1] - 20.0) < 1.5  # mean rate within ~7 % over 4000 gaps
    assert times == list(
        itertools.islice(
            LoadSpec(url="http://h:8000", rate=20.0, arrival="poisson", seed=3).start_times(), 4001
        )
    )
    other = list(
        itertools.islice(
            LoadSpec(url="http://h:8000", rate=20.0, arrival="poisson", seed=4).start_times(), 10
        )
    )
    assert other != times[:10]


def test_constant_start_times_are_fixed_intervals() -> None:
    spec = LoadSpec(url="http://h:8000", rate=4.0)
    assert list(itertools.islice(spec.start_times(), 4)) == [0.0, 0.25, 0.5, 0.75]


def test_a_request_mix_is_cycled_by_request_index() -> None:
    spec = LoadSpec(url="http://h:8000", rate=1.0, mix=(("a", 3), ("b", 5)))
    assert [spec.shape(i) for i in range(3)] == [("a", 3), ("b", 5), ("a", 3)]
    assert LoadSpec(url="http://h:8000", rate=1.0, prompt="p", max_tokens=7).shape(9) == ("p", 7)


def _in_window(times: list[float], start: float, end: float) -> int:
    return sum(start <= t < end for t in times)


def test_a_constant_ramp_starts_requests_as_often_as_the_rate_reads_at_each_moment() -> None:
    # 2/s rising to 22/s over 100 s: the expected count by t is 2t + 0.1t^2, 1200 requests in all.
    spec = LoadSpec(url="http://h:8000", rate=2.0, ramp_to=22.0, duration_s=100.0)
    times = list(itertools.takewhile(lambda t: t < 100.0, spec.start_times()))
    assert times[:2] == pytest.approx([0.0, (4.4**0.5 - 2) / 0.2])  # 2t + 0.1t^2 = 1
    assert len(times) == 1200
    assert _in_window(times, 0, 10) == 30  # 2*10 + 0.1*100
    assert _in_window(times, 90, 100) == 210  # (2*100 + 1000) - (2*90 + 810)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] > gaps[-1] * 10  # the gaps shrink as the rate rises from 2/s to 22/s


def test_a_poisson_ramp_follows_the_rising_rate_and_is_seeded() -> None:
    spec = LoadSpec(url="http://h:8000", rate=2.0, ramp_to=22.0, duration_s=100.0, arrival="poisson", seed=5)
    times = list(itertools.takewhile(lambda t: t < 100.0, spec.start_times()))
    assert abs(len(times) - 1200) < 3 * 1200**0.5  # a Poisson count of mean 1200
    assert abs(_in_window(times, 0, 20) - 80) < 4 * 80**0.5  # 2*20 + 0.1*400
    assert abs(_in_window(times, 80, 100) - 440) < 4 * 440**0.5  # 1200 - (160 + 640)
    again = LoadSpec(url="http://h:8000", rate=2.0, ramp_to=22.0, duration_s=100.0, arrival="poisson", seed=5)
    assert list(itertools.takewhile(lambda t: t < 100.0, again.start_times())) == times


def test_a_falling_ramp_starts_no_request_past_its_duration() -> None:
    spec = LoadSpec(url="http://h:8000", rate=10.0, ramp_to=1.0, duration_s=10.0)
    times = list(itertools.islice(spec.start_times(), 100))
    due = [t for t in times if t < 10.0]
    assert len(due) == 55  # 10*10 - 0.45*100
    assert all(t >= 10.0 for t in times[len(due) :])

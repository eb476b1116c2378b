"""A load spec that cannot run is refused with a message naming the offending flag; percentiles are exact."""

from __future__ import annotations

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

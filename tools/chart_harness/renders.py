"""The shared render set: every matrix scenario at every Kubernetes minor, rendered once per test run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from .matrix import Scenario, scenarios
from .render import HelmFailed, Rendered
from .render_cache import cached_render
from .versions import kube_version


@dataclass(frozen=True)
class Case:
    """One render of the matrix: a scenario at a minor (and the helm major that renders it)."""

    scenario: Scenario
    minor: str
    helm: str = "helm"

    @property
    def id(self) -> str:
        return f"{self.scenario.id}@{self.minor}" + ("" if self.helm == "helm" else f"/{self.helm}")


_done: dict[Case, Rendered | HelmFailed] = {}
# Set by the mutation check: a sweep stops at its first failed fact. The test fails just the same, without
# rendering the rest of the matrix against a chart already known to be broken.
STOP_AT_FIRST_FAILURE_ENV = "CHART_SWEEP_STOP_AT_FIRST_FAILURE"


def stop_at_first_failure() -> bool:
    return os.environ.get(STOP_AT_FIRST_FAILURE_ENV) == "1"


def render_case(case: Case) -> Rendered:
    """The case's render (cached, and memoised per case: sweeps revisit every case many times)."""
    if case not in _done:
        s = case.scenario
        try:
            _done[case] = cached_render(
                s.overlay, values_files=s.values_files, kube_version=kube_version(case.minor), helm=case.helm
            )
        except HelmFailed as e:
            _done[case] = e
    result = _done[case]
    if isinstance(result, HelmFailed):
        raise result
    return result


def cases() -> list[Case]:
    return [Case(s, minor) for s in scenarios() for minor in s.minors]


@cache
def _cases() -> tuple[Case, ...]:
    return tuple(cases())


def rendered_cases() -> Iterator[tuple[Case, Rendered]]:
    """Every case the chart renders, with its render. A refused case is left out here because
    tests/chart/test_render_matrix.py fails on it by name; the sweeps assert they saw what they check."""
    for case in _cases():
        try:
            yield case, render_case(case)
        except HelmFailed:
            continue


Finding = tuple[bool, str]


def sweep(check: Callable[[Case, Rendered], Iterable[Finding]]) -> tuple[int, list[str]]:
    """Run a check over every rendered case: (facts checked, messages of the facts that failed)."""
    checked, failed = 0, []
    for case, rendered in rendered_cases():
        for ok, message in check(case, rendered):
            checked += 1
            if not ok:
                failed.append(f"{case.id}: {message}")
                if stop_at_first_failure():
                    return checked, failed
    return checked, failed


def assert_sweep(checked: int, failed: list[str]) -> None:
    """A sweep's verdict: it failed if any fact failed, and also if it found no fact to check at all (a
    property of objects the render set never contains proves nothing)."""
    assert checked > 0, "the sweep found nothing to check in the render set"
    assert not failed, f"{len(failed)} of {checked} checks failed:\n" + "\n".join(failed[:40])

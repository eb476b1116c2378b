"""helm 3 and helm 4 render the same objects from the same inputs: every preset as is at every minor and
all-on at the newest, every ci values file as is at the newest minor."""

import pytest

from chart_harness.matrix import scenarios
from chart_harness.renders import Case, render_case
from chart_harness.versions import kube_minors


def _pairs() -> list[Case]:
    out = []
    for s in scenarios():
        as_is = not s.toggles and not s.label
        if s.base.kind == "preset" and as_is:
            out += [Case(s, minor) for minor in s.minors]
        elif as_is or (s.base.kind == "preset" and s.label == "all-on"):
            out.append(Case(s, s.minors[-1]))
    return out


PAIRS = _pairs()


def _objects(case: Case) -> list[dict]:
    return sorted(render_case(case).objects, key=lambda o: (o["kind"], o["metadata"]["name"]))


@pytest.mark.parametrize("case", PAIRS, ids=[c.id for c in PAIRS])
def test_helm3_renders_the_same_objects_as_helm4(case: Case) -> None:
    helm3 = Case(case.scenario, case.minor, helm="helm3")
    assert _objects(helm3) == _objects(case)


def test_the_comparison_covers_every_preset_at_every_minor() -> None:
    presets = {s.base.name for s in scenarios() if s.base.kind == "preset"}
    covered = {(c.scenario.base.name, c.minor) for c in PAIRS}
    assert presets
    assert {(p, m) for p in presets for m in kube_minors()} <= covered

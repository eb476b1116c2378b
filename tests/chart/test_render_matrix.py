"""The render matrix: every preset and ci values file x toggles (pairwise) x Kubernetes minor renders,
and every object validates strictly against that minor's schemas (custom resources against their CRDs)."""

import pytest

from chart_harness import validate
from chart_harness.matrix import TOGGLES, allowed, bases, scenarios
from chart_harness.render import HelmFailed
from chart_harness.renders import Case, cases, render_case
from chart_harness.versions import kube_minors

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_renders_and_every_object_validates_strictly(case: Case) -> None:
    try:
        rendered = render_case(case)
    except HelmFailed as e:
        pytest.fail(f"the chart refused a valid combination {case.id}:\n{e.stderr}")
    assert rendered.objects, f"{case.id} rendered no objects"
    problems = [
        f"{validate.describe(obj)}: {err}"
        for obj in rendered.objects
        for err in validate.errors(obj, case.minor)
    ]
    assert not problems, f"{case.id} at Kubernetes {case.minor}:\n" + "\n".join(problems)


def test_every_base_meets_every_allowed_toggle_level_and_every_minor() -> None:
    seen = {(s.base.name, f, lv) for s in scenarios() for f, lv in s.toggles}
    missing = [
        f"{b.name}: {f}={lv}"
        for b in bases()
        for f, levels in TOGGLES.items()
        for lv in levels
        if allowed(b, {f: lv}) and (b.name, f, lv) not in seen
    ]
    minors = {(c.scenario.base.name, c.minor) for c in CASES}
    missing += [f"{b.name} @ {m}" for b in bases() for m in kube_minors() if (b.name, m) not in minors]
    assert bases(), "no presets (values/*.yaml) nor ci files found"
    assert not missing, "never rendered:\n" + "\n".join(missing)


def test_every_toggle_level_renders_at_every_minor() -> None:
    seen = {(f, lv, c.minor) for c in CASES for f, lv in c.scenario.toggles}
    missing = [
        f"{f}={lv} @ {m}"
        for f, levels in TOGGLES.items()
        for lv in levels
        for m in kube_minors()
        if (f, lv, m) not in seen
    ]
    assert not missing, "never rendered:\n" + "\n".join(missing)

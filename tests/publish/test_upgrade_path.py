"""The upgrade path from every released version (read from git history, tools/chart_publish/history.py):
each values key a released chart read and this one does not is refused by name with the key to write
(files/removed-values.yaml, templates/_validate_removed.tpl); the previous release's presets render with this
chart; and for each of them the objects an in-place upgrade must keep (Deployment and Service selectors,
the model-cache claim) are the ones the previous chart rendered. (The upgrade itself, on a cluster and
under load: tests/e2e/test_publish.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chart_harness.render import CHART_DIR, HelmFailed, Rendered, render_chart
from chart_publish.history import (
    ROOT,
    NoHistory,
    Released,
    checkout,
    git,
    previous_release,
    released_versions,
    values_at,
)

VALUES_YAML = "charts/vllm-inference/values.yaml"
REMOVED: dict[str, dict[str, str]] = yaml.safe_load((CHART_DIR / "files" / "removed-values.yaml").read_text())


def dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every key of a values tree by its dotted path, with its value."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out[f"{prefix}{k}"] = v
        if isinstance(v, dict):
            out |= dotted(v, f"{prefix}{k}.")
    return out


def nested(path: str, value: Any) -> dict[str, Any]:
    tree: Any = value
    for part in reversed(path.split(".")):
        tree = {part: tree}
    result: dict[str, Any] = tree
    return result


def gone_since(released: Released) -> dict[str, Any]:
    """Keys (outermost only) the released values.yaml had and this one lacks, with their old default."""
    old = dotted(values_at(released.commit, VALUES_YAML))
    now = dotted(yaml.safe_load((CHART_DIR / "values.yaml").read_text()))
    gone = {k: v for k, v in old.items() if k not in now}
    return {k: v for k, v in gone.items() if not any(k.startswith(f"{o}.") for o in gone)}


def test_the_history_holds_each_released_version_before_this_one() -> None:
    versions = [r.version for r in released_versions()]
    assert versions, "no released version found in git history"
    assert versions == sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)
    assert "0.1.0" in versions


def test_every_key_a_released_version_read_and_this_one_does_not_is_refused_with_its_new_key() -> None:
    checked = []
    for released in released_versions():
        for key, old_default in gone_since(released).items():
            assert key in REMOVED, (
                f"{key} (chart {released.version}) is gone from values.yaml but not in "
                "files/removed-values.yaml: add it there with removedIn and replacedBy, so that a values "
                "file still setting it is refused by name"
            )
            with pytest.raises(HelmFailed) as failed:
                render_chart(nested(key, old_default))
            assert f"{key} was removed in chart {REMOVED[key]['removedIn']}" in failed.value.stderr
            assert REMOVED[key]["replacedBy"] in failed.value.stderr
            checked.append(key)
    assert checked, "no key was removed in the chart's history: the check proves nothing"


def test_every_replacement_named_for_a_removed_key_exists_in_values_yaml() -> None:
    now = dotted(yaml.safe_load((CHART_DIR / "values.yaml").read_text()))
    assert [k for k, r in REMOVED.items() if r["replacedBy"] not in now] == []


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> tuple[Released, Path]:
    released = previous_release()
    return released, checkout(released.commit, tmp_path_factory.mktemp(f"chart-{released.version}"))


def kept(rendered: Rendered) -> dict[tuple[str, str], Any]:
    """What an in-place upgrade must not change: immutable selectors and the claim's identity."""
    out: dict[tuple[str, str], Any] = {}
    for o in rendered.objects:
        key = (o["kind"], o["metadata"]["name"])
        if o["kind"] in ("Deployment", "Service"):
            out[key] = o["spec"]["selector"]
        elif o["kind"] == "PersistentVolumeClaim":
            out[key] = {k: o["spec"].get(k) for k in ("accessModes", "storageClassName", "resources")}
    return out


UPGRADE_VALUES = {"modelCache": {"mode": "pvc", "pvc": {"size": "10Gi", "accessMode": "ReadWriteMany"}}}


def test_the_previous_release_presets_render_with_this_chart_keeping_selectors_and_claims(
    previous: tuple[Released, Path],
) -> None:
    released, tree = previous
    presets = sorted((tree / "values").glob("*.yaml"))
    assert presets, f"chart {released.version} has no presets"
    for preset in presets:
        for extra in ({}, UPGRADE_VALUES):
            before = render_chart(extra, values_files=[preset], chart_dir=tree / "charts" / "vllm-inference")
            after = render_chart(extra, values_files=[preset])
            assert kept(before), f"{preset.name}: nothing to compare"
            assert kept(after) == kept(before), f"{preset.name} {extra}: changed since {released.version}"


def test_a_shallow_clone_fails_saying_how_to_fetch_the_history(tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    git("clone", "-q", "--depth", "1", f"file://{ROOT}", str(shallow))
    with pytest.raises(NoHistory, match="fetch-depth: 0"):
        released_versions(root=shallow)

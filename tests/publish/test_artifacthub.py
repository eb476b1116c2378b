"""The Artifact Hub check (make lint-artifacthub, tools/chart_publish/artifacthub.py) passes on the chart
and catches each kind of bad metadata, naming it: an image the chart renders missing from
artifacthub.io/images (or one listed it does not render), a change of an unknown kind, an unknown category,
a non-boolean prerelease, an annotation that is not a YAML string, a recommendation outside Artifact Hub,
an unknown key in artifacthub-repo.yml, and a CHANGELOG without the chart's version."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart_publish.artifacthub import CHANGELOG, CHART, REPO_FILE, check, rendered_images


def test_the_metadata_passes_and_lists_exactly_the_images_the_chart_renders() -> None:
    assert check() == []
    listed = yaml.safe_load(
        yaml.safe_load((CHART / "Chart.yaml").read_text())["annotations"]["artifacthub.io/images"]
    )
    assert {i["image"] for i in listed} == rendered_images()


def images_without_tests(a: dict[str, Any]) -> None:
    images = yaml.safe_load(a["artifacthub.io/images"])
    a["artifacthub.io/images"] = yaml.safe_dump([i for i in images if "python" not in i["image"]])


def images_plus_unrendered(a: dict[str, Any]) -> None:
    images = [*yaml.safe_load(a["artifacthub.io/images"]), {"name": "x", "image": "docker.io/busybox:1.37"}]
    a["artifacthub.io/images"] = yaml.safe_dump(images)


def change_kind(a: dict[str, Any]) -> None:
    a["artifacthub.io/changes"] = "- kind: improved\n  description: faster\n"


def set_key(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(a: dict[str, Any]) -> None:
        a[key] = value

    return edit


CHART_CASES = [
    ("image-missing", images_without_tests, "artifacthub.io/images lacks docker.io/library/python:3.12-slim"),
    (
        "image-unrendered",
        images_plus_unrendered,
        "lists docker.io/busybox:1.37, which the chart does not render",
    ),
    ("change-kind", change_kind, "artifacthub.io/changes"),
    ("category", set_key("artifacthub.io/category", "ml"), "artifacthub.io/category: 'ml' is not one of"),
    (
        "prerelease",
        set_key("artifacthub.io/prerelease", "yes"),
        "artifacthub.io/prerelease: 'yes' is not one of",
    ),
    (
        "not-a-yaml-string",
        set_key("artifacthub.io/links", [{"name": "a"}]),
        "artifacthub.io/links must be a YAML",
    ),
    (
        "recommendation-elsewhere",
        set_key("artifacthub.io/recommendations", "- url: https://example.org/keda\n"),
        "artifacthub.io/recommendations/0/url",
    ),
    ("unknown-annotation", set_key("artifacthub.io/imagez", "x"), "'artifacthub.io/imagez' is not one of"),
]


@pytest.mark.parametrize(("edit", "message"), [c[1:] for c in CHART_CASES], ids=[c[0] for c in CHART_CASES])
def test_bad_chart_annotations_are_reported_by_name(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    chart = tmp_path / "vllm-inference"
    shutil.copytree(CHART, chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    edit(meta["annotations"])
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    problems = check(chart_dir=chart)
    assert any(message in p for p in problems), problems


def test_an_unknown_key_in_the_repository_file_is_reported(tmp_path: Path) -> None:
    repo = tmp_path / "artifacthub-repo.yml"
    repo.write_text(REPO_FILE.read_text() + "verified: true\n")
    assert any("Additional properties are not allowed ('verified'" in p for p in check(repo_file=repo))


def test_a_changelog_without_the_chart_version_is_reported(tmp_path: Path) -> None:
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(CHANGELOG.read_text().replace(f"## {version}\n", "## next\n"))
    assert check(changelog=changelog) == [
        f"CHANGELOG.md has no '## {version}' section for the chart's version"
    ]

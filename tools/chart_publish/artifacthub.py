"""The Artifact Hub metadata check (`make lint-artifacthub`): the repository file (artifacthub-repo.yml)
and the chart's artifacthub.io/* annotations against schemas written from Artifact Hub's documentation
(schemas/), `artifacthub.io/images` against the images the chart renders by default (the server and the
helm test pods), and CHANGELOG.md holding the chart's version. Prints every problem, exits 1 on any."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from chart_harness.render import HelmFailed, render_chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "vllm-inference"
REPO_FILE = ROOT / "artifacthub-repo.yml"
CHANGELOG = ROOT / "CHANGELOG.md"
SCHEMAS = Path(__file__).parent / "schemas"
# Annotations whose value is a YAML document in a string (Artifact Hub's docs: "yaml string").
YAML_STRING = {
    "artifacthub.io/changes", "artifacthub.io/crds", "artifacthub.io/crdsExamples", "artifacthub.io/images",
    "artifacthub.io/links", "artifacthub.io/maintainers", "artifacthub.io/recommendations",
    "artifacthub.io/screenshots", "artifacthub.io/signKey",
}  # fmt: skip


def _schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMAS / name).read_text()))


def _errors(validator: Draft202012Validator, doc: Any, where: str) -> list[str]:
    return [
        f"{where}: {'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]


def annotations(chart_yaml: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The chart's artifacthub.io annotations with YAML strings parsed, and the parse problems."""
    parsed: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in (chart_yaml.get("annotations") or {}).items():
        if not key.startswith("artifacthub.io/"):
            continue
        if key in YAML_STRING:
            if not isinstance(value, str):
                problems.append(
                    f"Chart.yaml annotation {key} must be a YAML string (a `|` block), not {value!r}"
                )
                continue
            try:
                parsed[key] = yaml.safe_load(value)
            except yaml.YAMLError as e:
                problems.append(f"Chart.yaml annotation {key} is not valid YAML: {e}")
        else:
            parsed[key] = value
    return parsed, problems


def rendered_images(chart_dir: Path = CHART) -> set[str]:
    """Every container image the chart renders with its default values (hook pods included)."""
    images: set[str] = set()
    for obj in render_chart(chart_dir=chart_dir).objects:
        spec = obj.get("spec") or {}
        pod = spec.get("template", {}).get("spec") if obj["kind"] != "Pod" else spec
        for c in (pod or {}).get("containers", []) + (pod or {}).get("initContainers", []):
            images.add(c["image"])
    return images


def check(chart_dir: Path = CHART, repo_file: Path = REPO_FILE, changelog: Path = CHANGELOG) -> list[str]:
    problems: list[str] = []
    if not repo_file.is_file():
        problems.append(f"{repo_file.name} is missing (Artifact Hub's repository metadata file)")
    else:
        repo = yaml.safe_load(repo_file.read_text()) or {}
        problems += _errors(_schema("artifacthub-repo.schema.json"), repo, repo_file.name)

    chart_yaml = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    parsed, parse_problems = annotations(chart_yaml)
    problems += parse_problems
    problems += _errors(_schema("artifacthub-helm-annotations.schema.json"), parsed, "Chart.yaml annotations")
    for required in ("artifacthub.io/images", "artifacthub.io/license", "artifacthub.io/changes"):
        if required not in parsed:
            problems.append(f"Chart.yaml lacks the {required} annotation")

    images = parsed.get("artifacthub.io/images") or []
    listed = {i["image"] for i in images if isinstance(i, dict) and "image" in i}
    try:
        rendered = rendered_images(chart_dir)
    except HelmFailed as e:
        problems.append(f"the chart does not render with its defaults: {e.stderr.strip()}")
        rendered = listed
    for image in sorted(rendered - listed):
        problems.append(f"artifacthub.io/images lacks {image}, which the chart renders by default")
    for image in sorted(listed - rendered):
        problems.append(f"artifacthub.io/images lists {image}, which the chart does not render by default")

    version = str(chart_yaml["version"])
    if f"\n## {version}\n" not in changelog.read_text():
        problems.append(f"{changelog.name} has no '## {version}' section for the chart's version")
    return problems


def main() -> int:
    problems = check()
    for p in problems:
        print(f"artifacthub: {p}", file=sys.stderr)
    if problems:
        return 1
    print("artifacthub metadata: ok (artifacthub-repo.yml, Chart.yaml annotations, images, CHANGELOG)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The chart's released versions, read from git history: the chart as of each version is the last commit
before the one that moved Chart.yaml past it (on the first-parent line of HEAD), so later fixes published
under the same version count as that version. A clone without history fails here, saying how to fetch it."""

from __future__ import annotations

import itertools
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_YAML = "charts/vllm-inference/Chart.yaml"


class NoHistory(AssertionError):
    """The clone lacks the history a released version needs (a shallow clone)."""


@dataclass(frozen=True)
class Released:
    version: str
    commit: str  # the chart's last commit at that version


def git(*args: str, root: Path = ROOT) -> str:
    argv = ["git", "-C", str(root), *args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"git {' '.join(args)} failed:\n{out.stderr}"
    return out.stdout


def _version_at(commit: str, root: Path = ROOT) -> str:
    meta = yaml.safe_load(git("show", f"{commit}:{CHART_YAML}", root=root))
    return str(meta["version"])


def released_versions(root: Path = ROOT) -> list[Released]:
    """Every chart version before the current one, newest first, each with its last commit."""
    if git("rev-parse", "--is-shallow-repository", root=root).strip() == "true":
        raise NoHistory(
            "this clone is shallow: the chart's released versions are in git history. Fetch it "
            "(git fetch --unshallow; in GitHub Actions: actions/checkout with fetch-depth: 0)"
        )
    commits = git("rev-list", "--first-parent", "HEAD", "--", CHART_YAML, root=root).split()
    current = _version_at("HEAD", root)
    released: list[Released] = []
    seen = {current}
    for newer, older in itertools.pairwise(commits):
        version = _version_at(older, root)
        if version != _version_at(newer, root) and version not in seen:
            # `older` last touched Chart.yaml at `version`; the chart kept it until `newer`'s parent.
            released.append(Released(version, git("rev-parse", f"{newer}^1", root=root).strip()))
            seen.add(version)
    return released


def previous_release() -> Released:
    released = released_versions()
    if not released:
        raise NoHistory(f"no chart version before {_version_at('HEAD')} in this clone's history")
    return released[0]


def values_at(commit: str, path: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(git("show", f"{commit}:{path}")) or {}
    return loaded


def checkout(commit: str, dest: Path) -> Path:
    """`git archive` of the repository at `commit`, extracted under dest: the chart and its values files of
    that time."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".tar") as tar:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", "-o", tar.name, commit, "charts", "values"],
            check=True,
            timeout=60,
        )
        with tarfile.open(tar.name) as t:
            t.extractall(dest, filter="data")
    return dest

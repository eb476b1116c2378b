"""ct-pr.yaml, the pull-request lint (`ct lint --config ct-pr.yaml` in CI), refuses a chart change that does
not bump the chart's version and accepts it once bumped: run against a clone whose `origin` has `main` at
this commit, like a pull request's checkout with full history."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from chart_publish.package import ROOT

CT = ROOT / ".tools" / "bin" / "ct"
SHARE = ROOT / ".tools" / "share" / "ct"
GIT_ID = ("-c", "user.name=test", "-c", "user.email=test@example.invalid")


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stderr}"
    return out.stdout


def ct_lint(work: Path) -> subprocess.CompletedProcess[str]:
    args = ["lint", "--config", "ct-pr.yaml", "--chart-yaml-schema", str(SHARE / "chart_schema.yaml")]
    args += ["--lint-conf", str(SHARE / "lintconf.yaml")]
    return subprocess.run(
        [str(CT), *args], cwd=work, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_chart_change_without_a_version_bump_fails_the_pull_request_lint(tmp_path: Path) -> None:
    head = git(ROOT, "rev-parse", "HEAD").strip()
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "clone", "-q", "--bare", "--shared", str(ROOT), str(bare))
    git(bare, "update-ref", "refs/heads/main", head)
    git(tmp_path, "clone", "-q", "--shared", "--branch", "main", str(bare), str(work))
    # The working tree's ct-pr.yaml, in case it is not committed yet.
    (work / "ct-pr.yaml").write_text((ROOT / "ct-pr.yaml").read_text())
    git(work, "checkout", "-q", "-b", "pr")
    service = work / "charts" / "vllm-inference" / "templates" / "service.yaml"
    service.write_text(service.read_text() + "{{- /* a change */ -}}\n")
    git(work, "commit", "-q", "-am", "a chart change without a bump")

    unbumped = ct_lint(work)
    assert unbumped.returncode != 0
    assert "Needs a version bump" in unbumped.stdout + unbumped.stderr

    chart_yaml = work / "charts" / "vllm-inference" / "Chart.yaml"
    text = chart_yaml.read_text()
    major, minor, patch = re.search(r"^version: (\d+)\.(\d+)\.(\d+)$", text, re.M).groups()  # type: ignore[union-attr]
    chart_yaml.write_text(
        text.replace(f"version: {major}.{minor}.{patch}", f"version: {major}.{minor}.{int(patch) + 1}")
    )
    git(work, "commit", "-q", "-am", "bump")
    bumped = ct_lint(work)
    assert bumped.returncode == 0, bumped.stdout + bumped.stderr

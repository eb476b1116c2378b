"""The chart packaged and pushed the way `make package` / `make push` do it: through hack/package.sh, so the
tests exercise the script users and the release workflow run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .signing import SigningKey

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "vllm-inference"
PACKAGE_SH = ROOT / "hack" / "package.sh"
HELM4 = ROOT / ".tools" / "bin" / "helm"
HELM3 = ROOT / ".tools" / "bin" / "helm3"
HELMS = {"helm4": HELM4, "helm3": HELM3}


class PackageFailed(AssertionError):
    """hack/package.sh exited non-zero; carries its output."""


def chart_meta(chart_dir: Path = CHART) -> dict[str, Any]:
    meta: dict[str, Any] = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    return meta


def _run(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        ["bash", str(PACKAGE_SH), action],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise PackageFailed(f"package.sh {action} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def package(
    dist: Path,
    *,
    helm: Path = HELM4,
    chart_dir: Path = CHART,
    repo_url: str = "https://charts.example.invalid/vllm-inference",
    key: SigningKey | None = None,
) -> Path:
    """helm package (+ --sign with `key`) and helm repo index into `dist`; the .tgz written."""
    env = {"HELM": str(helm), "CHART_DIR": str(chart_dir), "DIST": str(dist), "REPO_URL": repo_url}
    if key:
        env |= {"SIGN_KEY": key.uid, "KEYRING": str(key.secring)}
    _run("package", env)
    meta = chart_meta(chart_dir)
    return dist / f"{meta['name']}-{meta['version']}.tgz"


def push(dist: Path, registry: str, *, helm: Path = HELM4, chart_dir: Path = CHART) -> str:
    """helm push of dist's package of the chart's version to `registry` (oci://, plain HTTP); the output."""
    env = {
        "HELM": str(helm),
        "CHART_DIR": str(chart_dir),
        "DIST": str(dist),
        "OCI_REGISTRY": registry,
        "PLAIN_HTTP": "1",
    }
    out = _run("push", env)
    return out.stdout + out.stderr

"""Pinned tool versions and the Kubernetes minors of the render matrix (hack/versions.env)."""

from __future__ import annotations

import shlex
from functools import cache
from pathlib import Path

VERSIONS_ENV = Path(__file__).resolve().parents[2] / "hack" / "versions.env"


@cache
def pinned() -> dict[str, str]:
    """KEY=value lines of versions.env (shell quoting honoured, comments skipped)."""
    out: dict[str, str] = {}
    for line in VERSIONS_ENV.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        out[key.strip()] = " ".join(shlex.split(raw))
    return out


def kube_minors() -> list[str]:
    """The Kubernetes minors every render is validated against, e.g. ["1.31", "1.34", "1.37"]."""
    return pinned()["KUBE_MINORS"].split()


def kube_version(minor: str) -> str:
    """The `--kube-version` passed to helm for a minor (patch 0: only the minor matters to the chart)."""
    return f"v{minor}.0"

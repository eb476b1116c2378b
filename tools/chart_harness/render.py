"""The one entry point that renders the chart: `render_chart()` runs `helm template`, indexes the objects."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# $VLLM_INFERENCE_CHART points the harness at another copy of the chart (mutation checks use it).
CHART_DIR = Path(os.environ.get("VLLM_INFERENCE_CHART", ROOT / "charts" / "vllm-inference"))
TOOLS_BIN = ROOT / ".tools" / "bin"
RELEASE = "test"
NAMESPACE = "inference"


class HelmFailed(Exception):
    """`helm template` exited non-zero; `stderr` carries helm's message (the chart's `fail` text)."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"helm exited {returncode}: {stderr.strip()}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


@dataclass
class Rendered:
    """The objects of one render, in order, with an index by (kind, name)."""

    objects: list[dict[str, Any]]
    manifest: str
    by_key: dict[tuple[str, str], dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_key = {(o["kind"], o["metadata"]["name"]): o for o in self.objects}

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.by_key[(kind, name)]


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: a render parses in ~1 ms, not ~10


def parse_manifest(manifest: str) -> Rendered:
    """`helm template` output as a Rendered (empty documents dropped)."""
    objects = [doc for doc in yaml.load_all(manifest, Loader=_LOADER) if doc]
    return Rendered(objects=objects, manifest=manifest)


def helm_binary(helm: str = "helm") -> str:
    """`helm` is helm 4, `helm3` helm 3; both from .tools/bin (see hack/install-tools.sh)."""
    path = TOOLS_BIN / helm
    return str(path) if path.exists() else helm


def render_chart(
    values: Mapping[str, Any] | None = None,
    *,
    values_files: Iterable[str | os.PathLike[str]] = (),
    kube_version: str | None = None,
    api_versions: Iterable[str] = (),
    show_only: Iterable[str] = (),
    helm: str = "helm",
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    chart_dir: Path = CHART_DIR,
) -> Rendered:
    """Render the chart with `helm template`; values files first, then `values` (highest precedence)."""
    argv = [helm_binary(helm), "template", release, str(chart_dir), "--namespace", namespace]
    for f in values_files:
        argv += ["--values", str(f)]
    if kube_version:
        argv += ["--kube-version", kube_version]
    for api in api_versions:
        argv += ["--api-versions", api]
    for template in show_only:
        argv += ["--show-only", template]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="values-") as tmp:
        if values:
            yaml.safe_dump(dict(values), tmp)
            tmp.flush()
            argv += ["--values", tmp.name]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HelmFailed(argv, proc.returncode, proc.stderr)
    return parse_manifest(proc.stdout)

"""A render cache shared by the pytest-xdist workers of one test run, so each combination renders once.

The matrix test, the invariant sweeps and the helm 3/4 comparison ask for the same renders. The cache keys a
render by everything that can change its output (chart files, values, values files, kube version, helm
binary) and stores helm's stdout, or its failure, as one JSON file. A per-key `flock` makes a second worker
wait for the first instead of rendering the same thing again. The directory comes from $CHART_RENDER_CACHE
(tests/chart/conftest.py points it at the run's shared temp dir, so every run starts cold); unset, the cache
lives in memory only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .render import CHART_DIR, HelmFailed, Rendered, helm_binary, parse_manifest, render_chart

ENV = "CHART_RENDER_CACHE"
_memory: dict[str, dict[str, Any]] = {}
_parsed: dict[str, Rendered] = {}


@cache
def _digest_tree(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _key(
    values: Mapping[str, Any] | None, values_files: tuple[str, ...], kube_version: str | None, helm: str
) -> str:
    spec = {
        "chart": _digest_tree(CHART_DIR),
        "values": values or {},
        "files": [(f, hashlib.sha256(Path(f).read_bytes()).hexdigest()) for f in values_files],
        "kube": kube_version,
        "helm": os.path.realpath(helm_binary(helm)),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]


def _render_record(
    values: Mapping[str, Any] | None, values_files: tuple[str, ...], kube_version: str | None, helm: str
) -> dict[str, Any]:
    try:
        out = render_chart(values, values_files=values_files, kube_version=kube_version, helm=helm)
    except HelmFailed as e:
        return {"ok": False, "argv": e.argv, "returncode": e.returncode, "stderr": e.stderr}
    return {"ok": True, "manifest": out.manifest}


def _record(
    key: str,
    values: Mapping[str, Any] | None,
    values_files: tuple[str, ...],
    kube_version: str | None,
    helm: str,
) -> dict[str, Any]:
    if key in _memory:
        return _memory[key]
    directory = os.environ.get(ENV)
    if not directory:
        _memory[key] = _render_record(values, values_files, kube_version, helm)
        return _memory[key]
    path = Path(directory) / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            record = _render_record(values, values_files, kube_version, helm)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(record))
            tmp.replace(path)
    _memory[key] = json.loads(path.read_text())
    return _memory[key]


def cached_render(
    values: Mapping[str, Any] | None = None,
    *,
    values_files: Iterable[str | os.PathLike[str]] = (),
    kube_version: str | None = None,
    helm: str = "helm",
) -> Rendered:
    """render_chart() through the cache: the same Rendered, or the same HelmFailed, as a fresh render."""
    files = tuple(str(f) for f in values_files)
    key = _key(values, files, kube_version, helm)
    record = _record(key, values, files, kube_version, helm)
    if not record["ok"]:
        raise HelmFailed(record["argv"], record["returncode"], record["stderr"])
    if key not in _parsed:
        _parsed[key] = parse_manifest(record["manifest"])
    return _parsed[key]

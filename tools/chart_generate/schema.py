"""values.schema.json, edited in place: the catalogue-derived enums and the removed keys.

Everything else in the schema is written by hand; this module rewrites only what another file decides:
- `gpu.type`: "" (no size check) plus every catalogue GPU;
- `model.quantization`: "" (the checkpoint's own) plus every catalogue `--quantization` spelling, plus the
  vLLM methods the catalogue has no size for (accepted, never size-checked);
- one `deprecated` property per key of files/removed-values.yaml, open to any value, so that a values file
  that still sets it reaches the chart's check that refuses it by name (templates/_validate_removed.tpl).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from vllm_model.catalog import load_gpus, load_quantizations

# vLLM --quantization methods the chart passes through without sizing: the catalogue has no bytes per
# parameter for them (GGUF's vary per file; ModelOpt and MXFP4 checkpoints are sized by their own configs).
UNSIZED_QUANTIZATIONS = ("gguf", "modelopt", "mxfp4")


def _node(schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    node = schema
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def removed_keys(chart_dir: Path) -> dict[str, dict[str, str]]:
    return yaml.safe_load((chart_dir / "files" / "removed-values.yaml").read_text()) or {}


def tensor_parallel_sizes(schema: dict[str, Any]) -> list[int]:
    """The tensor-parallel sizes the chart accepts (the schema's enum of vllm.tensorParallelSize)."""
    return [int(tp) for tp in _node(schema, "vllm.tensorParallelSize")["enum"]]


def generated(schema: dict[str, Any], removed: dict[str, dict[str, str]]) -> dict[str, Any]:
    """`schema` with the generated parts rewritten (a new dict; the rest kept as written)."""
    out = json.loads(json.dumps(schema))
    _node(out, "gpu.type")["enum"] = ["", *load_gpus()]
    _node(out, "model.quantization")["enum"] = ["", *load_quantizations(), *UNSIZED_QUANTIZATIONS]
    for dotted, entry in removed.items():
        parent, _, leaf = dotted.rpartition(".")
        _node(out, parent)["properties"][leaf] = {
            "deprecated": True,
            "description": (
                f"Removed in chart {entry['removedIn']}: set {entry['replacedBy']} instead. Accepted here "
                "only so that the chart can refuse it by name with what to write."
            ),
        }
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"

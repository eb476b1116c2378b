"""Values trees as Helm sees them: merging values files and looking keys up by dotted path.

Shared by the planner (which reads chart values files) and the chart test harness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Values = dict[str, Any]


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Values:
    """Helm's merge of values files: maps merge recursively, anything else in `over` replaces.
    Unchanged subtrees are shared, not copied: treat every values tree here as read-only."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def dig(values: Any, dotted: str, default: Any = None) -> Any:
    """The value at a dotted path; `default` when a part is missing or the value is null (Helm's null
    deletes a key)."""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node

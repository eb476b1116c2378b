"""The chart README's values table, generated from values.yaml's helm-docs comments (tools/chart_generate).

Dialect (as helm-docs): `# -- description` directly above a key documents it; following `#` lines continue
the description; `# -- (type) description` overrides the type; `# @default -- text` overrides the default
shown. `## @section Name` or a `# ===== Name =====` banner starts a section. Keys inside list items are
not documented separately. Types come from values.schema.json where it declares them, else from the
default value; a key the schema gives an enum lists its allowed values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vllm_plan.chart_values import dig

KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.\"'/-]+):(\s|$)")
DOC = re.compile(r"^\s*# -- (?:\((?P<type>[^)]+)\)\s*)?(?P<text>.*)$")
DEFAULT = re.compile(r"^\s*# @default -- (?P<text>.*)$")
SECTION = re.compile(r"^(?:## @section (?P<name>.+)|# =+ (?P<banner>.+?) =+)$")


@dataclass
class Row:
    key: str
    type: str
    default: str
    description: str
    section: str


@dataclass
class _Doc:
    lines: list[str]
    type: str | None = None
    default: str | None = None


def documented_keys(text: str) -> list[tuple[str, str, _Doc | None]]:
    """(dotted key, section, its doc or None) for every mapping key outside list items, in file order."""
    out: list[tuple[str, str, _Doc | None]] = []
    stack: list[tuple[int, str]] = []
    pending: _Doc | None = None
    section = "General"
    list_owner: int | None = None  # indent of the key owning the list we are inside
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if m := SECTION.match(line):
            section, pending = (m["name"] or m["banner"]).strip(), None
            continue
        if not stripped:
            pending = None
            continue
        if list_owner is not None and (
            indent > list_owner or (indent == list_owner and stripped.startswith("-"))
        ):
            continue  # inside a list item (or a commented example in it)
        list_owner = None
        if stripped.startswith("#"):
            if m := DOC.match(line):
                pending = _Doc([m["text"].strip()], m["type"])
            elif (m := DEFAULT.match(line)) and pending:
                pending.default = m["text"].strip()
            elif pending and not stripped.startswith("##"):
                pending.lines.append(stripped.lstrip("#").strip())
            continue
        if stripped.startswith("-"):
            list_owner = stack[-1][0] if stack else 0
            continue
        m = KEY.match(line)
        if not m:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = m["key"].strip("\"'")
        stack.append((indent, key))
        out.append((".".join(k for _, k in stack), section, pending))
        pending = None
    return out


def _schema_node(schema: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node: Any = schema
    for part in dotted.split("."):
        while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
            node = dig(schema, node["$ref"][2:].replace("/", "."))
        node = (node or {}).get("properties", {}).get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _type(value: Any, schema_node: dict[str, Any] | None) -> str:
    declared = (schema_node or {}).get("type")
    if isinstance(declared, list):
        return " or ".join(declared)
    if declared:
        return str(declared)
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), "null" if value is None else type(value).__name__)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _allowed(schema_node: dict[str, Any] | None) -> str:
    enum = (schema_node or {}).get("enum")
    return " Allowed: " + ", ".join(f"`{json.dumps(v)}`" for v in enum) + "." if enum else ""


def rows(values_path: Path, schema: dict[str, Any] | None = None) -> list[Row]:
    """One row per documented key of values.yaml; `schema` (values.schema.json, parsed) adds types, enums."""
    text = values_path.read_text()
    values = yaml.safe_load(text) or {}
    out = []
    for key, section, doc in documented_keys(text):
        if doc is None:
            continue
        value = dig(values, key)
        node = _schema_node(schema or {}, key)
        default = doc.default or json.dumps(value, separators=(", ", ": "))
        out.append(
            Row(key, doc.type or _type(value, node), default, " ".join(doc.lines) + _allowed(node), section)
        )
    return out


def table(all_rows: list[Row]) -> str:
    parts: list[str] = []
    section = None
    for r in all_rows:
        if r.section != section:
            section = r.section
            parts += ["", f"### {section}", "", "| Key | Type | Default | Description |", "|---|---|---|---|"]
        parts.append(f"| `{r.key}` | {r.type} | `{_cell(r.default)}` | {_cell(r.description)} |")
    return "\n".join(parts).strip() + "\n"

"""values.yaml and values.schema.json are kept in step: same keys both ways, closed objects, every values file
(defaults, presets, ci) valid, and every key documented with a helm-docs `# --` comment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from chart_harness.matrix import bases
from chart_harness.render import CHART_DIR
from chart_harness.values_docs import documented_keys

VALUES = CHART_DIR / "values.yaml"
SCHEMA = CHART_DIR / "values.schema.json"


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def _object_nodes(node: Any, path: str = "", why: str = "") -> Iterator[tuple[str, dict[str, Any], str]]:
    """Every schema node describing an object: (dotted path, node, the description it or its array has)."""
    if not isinstance(node, dict):
        return
    why = node.get("description", why)
    types = node.get("type")
    if types == "object" or (isinstance(types, list) and "object" in types) or "properties" in node:
        yield path or "<root>", node, why
    for key, child in (node.get("properties") or {}).items():
        yield from _object_nodes(child, f"{path}.{key}".lstrip("."))
    if isinstance(node.get("items"), dict):
        yield from _object_nodes(node["items"], f"{path}[items]", why)
    if isinstance(node.get("additionalProperties"), dict):
        yield from _object_nodes(node["additionalProperties"], f"{path}[values]")
    for word in ("anyOf", "oneOf", "allOf"):
        for i, child in enumerate(node.get(word) or []):
            yield from _object_nodes(child, f"{path}<{word}{i}>", why)


def _walk(values: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Keys of `values` that the schema does not declare (descending where the schema lists properties)."""
    if not isinstance(values, dict) or "properties" not in schema:
        return
    for key, value in values.items():
        child = schema["properties"].get(key)
        here = f"{path}.{key}".lstrip(".")
        if child is None:
            yield here
        else:
            yield from _walk(value, child, here)


def _schema_keys(schema: dict[str, Any], path: str = "", deprecated: bool = False) -> Iterator[str]:
    """Dotted schema properties: the current ones, or (deprecated=True) the removed keys it lets through."""
    for key, child in (schema.get("properties") or {}).items():
        here = f"{path}.{key}".lstrip(".")
        if bool(child.get("deprecated")) == deprecated:
            yield here
        yield from _schema_keys(child, here, deprecated)


def _present(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_key_in_values_yaml_is_declared_in_the_schema() -> None:
    undeclared = list(_walk(_values(), _schema()))
    assert not undeclared, f"values.yaml keys missing from values.schema.json: {undeclared}"


def test_every_schema_property_has_a_default_in_values_yaml() -> None:
    values = _values()
    # `global` is Helm's own key (values passed to every subchart)
    missing = {k for k in _schema_keys(_schema()) if not _present(values, k) and k != "global"}
    assert not missing, (
        f"schema properties with no default (so no documentation) in values.yaml: {sorted(missing)}"
    )


def test_schema_objects_are_closed_or_typed_maps_or_declared_kubernetes_pass_through() -> None:
    open_nodes = []
    for path, node, why in _object_nodes(_schema()):
        extra = node.get("additionalProperties", True)
        if "properties" in node:
            ok = extra is False
        else:
            # a free-form map must type its values; a Kubernetes pass-through field (affinity, tolerations...)
            # says what it is, and the render matrix validates what it becomes against the Kubernetes schema
            ok = isinstance(extra, dict) or extra is False or bool(why)
        if not ok:
            open_nodes.append(path)
    assert not open_nodes, f"open objects in values.schema.json: {open_nodes}"


def test_schema_is_a_valid_json_schema_and_values_yaml_satisfies_it() -> None:
    schema = _schema()
    jsonschema.validators.validator_for(schema).check_schema(schema)
    jsonschema.validate(_values(), schema)


@pytest.mark.parametrize("base", bases(), ids=[b.name for b in bases()])
def test_every_preset_and_ci_file_satisfies_the_schema(base) -> None:
    merged_errors = sorted(
        jsonschema.validators.validator_for(_schema())(_schema()).iter_errors(base.values), key=str
    )
    assert not merged_errors, [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in merged_errors]


def test_every_values_key_is_documented_with_a_helm_docs_comment() -> None:
    keys = documented_keys(VALUES.read_text())
    documented = {k for k, _section, doc in keys if doc is not None}

    def covered(key: str) -> bool:
        parts = key.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        return bool(ancestors & documented) or any(d.startswith(key + ".") for d in documented)

    assert documented
    missing = [k for k, _s, _d in keys if not covered(k)]
    assert not missing, f"values.yaml keys without a `# --` description (nor a documented parent): {missing}"


def test_the_schema_lets_through_exactly_the_removed_keys_and_values_yaml_sets_none_of_them() -> None:
    removed = yaml.safe_load((CHART_DIR / "files" / "removed-values.yaml").read_text())
    assert removed, "files/removed-values.yaml lists no removed key"
    assert set(_schema_keys(_schema(), deprecated=True)) == set(removed)
    assert not [k for k in removed if _present(_values(), k)]
    for base in bases():
        assert not [k for k in removed if _present(yaml.safe_load(base.path.read_text()) or {}, k)], base.name

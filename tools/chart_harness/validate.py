"""Strict, offline validation of rendered objects for one Kubernetes minor.

Built-in kinds: the strict schemas bundled in PyPI `kubernetes-validate` (closed objects). Custom resources:
the real CRDs (see crds.py), with `metadata` checked against that minor's ObjectMeta. On top of the OpenAPI
schema we add the checks the API server makes and OpenAPI leaves out: quantity syntax, DNS names, label
syntax. Validators are built once per (minor, apiVersion, kind) and results memoised per object, because a
matrix renders the same Service hundreds of times.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

from .crds import crd_schemas

DEFS_URI = "https://kubernetes.io/api/_definitions.json"
_DEFS = "#/$defs/"
# k8s.io/apimachinery/pkg/api/resource: the syntax a Quantity string must have.
QUANTITY = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LABEL_KEY = r"^(" + DNS_SUBDOMAIN[1:-1] + r"/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"


class NoSchema(Exception):
    """Neither the bundled Kubernetes schemas nor the installed CRDs know this apiVersion/kind."""


def _schema_dir(minor: str) -> Any:
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    path = root / f"v{minor}.0-local-strict"
    if not path.is_dir():
        raise NoSchema(f"kubernetes-validate bundles no schemas for Kubernetes {minor}")
    return path


def _tightened(defs: dict[str, Any]) -> dict[str, Any]:
    """The minor's definitions with the API server's syntax checks added to Quantity and ObjectMeta."""
    d = defs["$defs"]
    d["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {
        "oneOf": [{"type": "string", "pattern": QUANTITY}, {"type": "number"}]
    }
    meta = d["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    meta["name"] = {"type": "string", "pattern": DNS_SUBDOMAIN, "maxLength": 253}
    meta["labels"] = {
        "type": "object",
        "propertyNames": {"pattern": LABEL_KEY, "maxLength": 317},
        "additionalProperties": {"type": "string", "pattern": LABEL_VALUE, "maxLength": 63},
    }
    return defs


@cache
def _registry(minor: str) -> Registry:
    defs = json.loads((_schema_dir(minor) / "_definitions.json").read_text())
    return Resource.from_contents(_tightened(defs)) @ Registry()


def _core_schema(minor: str, api_version: str, kind: str) -> dict[str, Any] | None:
    # kubernetes-validate's file naming: apps/v1 -> apps-v1, networking.k8s.io/v1 -> networking-v1, v1 -> v1
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_dir(minor) / f"{kind.lower()}-{group_version}.json"
    return json.loads(path.read_text()) if path.is_file() else None


@cache
def validator(minor: str, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """The strict validator for one kind at one minor; CRDs win over a name-clash with the core files."""
    crd = crd_schemas().get((api_version, kind))
    if crd is not None:
        schema = dict(crd)
        props = dict(schema.get("properties", {}))
        props["metadata"] = {"$ref": f"{DEFS_URI}{_DEFS}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
        schema["properties"] = props
    else:
        schema = _core_schema(minor, api_version, kind)
        if schema is None:
            raise NoSchema(f"no schema for {api_version} {kind} at Kubernetes {minor} (nor an installed CRD)")
    return jsonschema.Draft202012Validator(schema, registry=_registry(minor))


def _errors(minor: str, text: str) -> tuple[str, ...]:
    obj = json.loads(text)
    try:
        v = validator(minor, obj.get("apiVersion", ""), obj.get("kind", ""))
    except NoSchema as e:
        return (str(e),)
    found = sorted(v.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    return tuple(f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found)


_memo: dict[tuple[str, str], tuple[str, ...]] = {}


def errors(obj: dict[str, Any], minor: str) -> list[str]:
    """Every schema violation of one object at one minor, as 'path: message' lines (empty = valid)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    key = (minor, text)
    if key not in _memo:
        _memo[key] = _errors(minor, text)
    return list(_memo[key])


def describe(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"

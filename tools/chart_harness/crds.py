"""Custom resource schemas from the CRDs installed by `make tools` (.tools/share/crds/), read offline.

A CRD's openAPIV3Schema leaves objects open (the API server prunes unknown fields silently). We close every
object that declares `properties` and does not opt out with `x-kubernetes-preserve-unknown-fields`, so a
misspelt field fails here the way `kubectl apply --validate=strict` fails, instead of vanishing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .render import ROOT

CRD_DIR = ROOT / ".tools" / "share" / "crds"

# libyaml's loader when PyYAML was built with it (several times faster on the large CRDs); the type checker
# sees the pure-Python SafeLoader, whose interface the C one shares.
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """Safe loader that reads a bare `=` (an enum value in some CRDs) as the string "=" (PyYAML #89)."""


def _bare_value(loader: _Loader, node: yaml.ScalarNode) -> Any:
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:value", _bare_value)


def _closed(schema: Any) -> Any:
    """A copy of `schema` with additionalProperties: false wherever the object lists its properties."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
        # an embedded object implicitly carries apiVersion/kind/metadata beyond its listed properties
        and not out.get("x-kubernetes-embedded-resource")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_schemas(crd_dir: Path = CRD_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> closed openAPIV3Schema, for every served version of every CRD under crd_dir."""
    index: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(crd_dir.rglob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=_Loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue  # e.g. gateway-api ships a ValidatingAdmissionPolicy next to its CRDs
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = _closed(version["schema"]["openAPIV3Schema"])
                index[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return index

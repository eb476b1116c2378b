"""The custom resource definitions the chart renders against (KEDA, prometheus-operator, Gateway API), from
the operators' own modules (hack/install-tools.sh puts them in .tools/share/crds), installed where the
cluster lacks them so the API server validates the chart's custom resources against the real schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pykube
import yaml

from .kube import ROOT, wait_until

CRD_DIR = ROOT / ".tools" / "share" / "crds"
CRD_GROUPS = ("keda", "prometheus-operator", "gateway-api")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads a bare `=` (an enum value in prometheus-operator's CRDs) as the `value` tag: a str."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def crd_documents() -> list[dict[str, Any]]:
    docs = []
    for group in CRD_GROUPS:
        files = sorted((CRD_DIR / group).glob("*.yaml"))
        assert files, f"no CRDs in {CRD_DIR / group}: run make tools"
        for f in files:
            docs += [
                d
                for d in yaml.load_all(f.read_text(), Loader=_Loader)
                if d and d["kind"] == "CustomResourceDefinition"
            ]
    return docs


def install_missing_crds(api: pykube.HTTPClient) -> Iterator[list[str]]:
    """Create each CRD the cluster lacks and wait until it is established; yields the names created. They
    stay (scenarios side by side share them; the cluster is thrown away after the tier). A CRD another
    scenario created in the meantime (409 Conflict) counts as present."""
    kind = pykube.object_factory(api, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    created = []
    for doc in crd_documents():
        name = doc["metadata"]["name"]
        if kind.objects(api).get_or_none(name=name) is None:
            try:
                kind(api, doc).create()
            except pykube.exceptions.HTTPError as err:
                if err.code != 409:
                    raise
            created.append(name)

    def established(name: str) -> bool:
        crd = kind.objects(api).get(name=name)
        return any(
            c["type"] == "Established" and c["status"] == "True"
            for c in crd.obj["status"].get("conditions", [])
        )

    for name in created:
        wait_until(f"CRD {name} established", lambda n=name: established(n), 60, 0.5)  # type: ignore[misc]
    yield created
    for name in created:
        obj = kind.objects(api).get_or_none(name=name)
        if obj is not None:
            obj.delete()

"""What the chart publishes: Ingress and HTTPRoute route only exposure.paths (the OpenAI API), the
NetworkPolicy admits the scraper's pods and no other pod of their namespace, and nothing derived from the API
key reaches a pod."""

from __future__ import annotations

import hashlib
from typing import Any

from chart_harness.render import RELEASE, Rendered, render_chart

FULL = f"{RELEASE}-vllm-inference"
INGRESS = {"ingress": {"enabled": True, "hosts": [{"host": "llm.example.com"}, {"host": "api.example.com"}]}}
ROUTE = {"httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}], "hostnames": ["llm.example.com"]}}
API = [
    ("/v1/chat/completions", "Exact"),
    ("/v1/completions", "Exact"),
    ("/v1/embeddings", "Exact"),
    ("/v1/models", "Prefix"),
    ("/v1/responses", "Prefix"),
]


def _ingress_paths(r: Rendered) -> dict[str, list[tuple[str, str]]]:
    rules = r.get("Ingress", FULL)["spec"]["rules"]
    return {rule["host"]: [(p["path"], p["pathType"]) for p in rule["http"]["paths"]] for rule in rules}


def test_every_ingress_host_publishes_the_openai_api_and_nothing_else() -> None:
    paths = _ingress_paths(render_chart(INGRESS))
    assert paths == {"llm.example.com": API, "api.example.com": API}


def test_the_http_route_matches_the_same_paths_in_gateway_api_terms() -> None:
    (rule,) = render_chart(ROUTE).get("HTTPRoute", FULL)["spec"]["rules"]
    matches = [(m["path"]["value"], m["path"]["type"]) for m in rule["matches"]]
    assert matches == [(p, "Exact" if t == "Exact" else "PathPrefix") for p, t in API]
    assert rule["backendRefs"] == [{"name": FULL, "port": 8000}]


def test_the_allowlist_is_configurable() -> None:
    own = {"exposure": {"paths": [{"path": "/v1/chat/completions", "pathType": "Exact"}]}}
    assert _ingress_paths(render_chart({**INGRESS, **own}))["llm.example.com"] == [
        ("/v1/chat/completions", "Exact")
    ]


def _scraper_peer(values: dict[str, Any]) -> list[dict[str, Any]]:
    np = render_chart({"networkPolicy": {"enabled": True, **values}}).get("NetworkPolicy", FULL)
    rules = np["spec"]["ingress"]
    return list(rules[-1]["from"])


def test_network_policy_admits_the_scrapers_pods_by_namespace_and_pod_labels_together() -> None:
    (peer,) = _scraper_peer({})
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    gmp = {
        "monitoring": {
            "namespaceSelector": {"kubernetes.io/metadata.name": "gmp-system"},
            "podSelector": {"app.kubernetes.io/name": "collector"},
            "ipBlocks": ["198.18.64.0/24"],
        }
    }
    assert _scraper_peer(gmp) == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "collector"}},
        },
        {"ipBlock": {"cidr": "198.18.64.0/24"}},
    ]
    # null (helm merges a {} into the default) admits every pod of the scraper's namespace
    whole = _scraper_peer({"monitoring": {"podSelector": None}})
    assert whole == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


def test_no_pod_carries_an_annotation_derived_from_the_api_key() -> None:
    key = "correct-horse-battery-staple"
    r = render_chart({"auth": {"enabled": True, "apiKey": key}})
    digest = hashlib.sha256(key.encode()).hexdigest()
    annotations = r.get("Deployment", f"{FULL}-on-demand")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/default-container": "vllm"}
    assert digest[:16] not in str(r.objects) and key not in str(r.get("Deployment", f"{FULL}-on-demand"))

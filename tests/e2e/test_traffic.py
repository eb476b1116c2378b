"""Traffic: completions and streaming chat through the Service with the openai client (vllm-load, from a
node, through kube-proxy), answered by both pools; the API key enforced on /v1 and only there; and the
paths the HTTPRoute and Ingress publish. The local cluster has no Gateway or Ingress controller, so the route
scenario reads the rules the API server accepted and matches each path against them as Gateway API and
Ingress define path matching, and checks through the Service that the unpublished paths do answer there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pykube
import pytest

from .conftest import Figure
from .release import E2E_VALUES, Release
from .traffic import node_exec, run_load

QUICK = ("--rate", "20", "--requests", "40", "--max-tokens", "16", "--no-keepalive", "--timeout", "20")
API_KEY = "e2e-secret-key"  # tests/e2e/values/auth.yaml


@pytest.mark.parametrize(
    "shape",
    [("--api", "completions", "--no-stream"), ("--api", "chat", "--stream")],
    ids=["completions", "chat-stream"],
)
def test_requests_through_the_service_are_answered_by_both_pools(
    node_client: Path, release: Release, figure: Figure, shape: tuple[str, ...]
) -> None:
    release.install()
    release.wait_serving({"onDemand": 1, "spot": 1})
    before = {p.name: release.served(p) for p in release.ready_pods()}
    report = run_load(release.service_url, *shape, *QUICK)
    after = {p.name: release.served(p) for p in release.ready_pods()}
    by_pool = {
        pool: sum(after[p.name] - before[p.name] for p in release.ready_pods(pool))
        for pool in ("onDemand", "spot")
    }
    figure(f"{report['summary']}; answered by pool: {by_pool}")
    assert (report["sent"], report["ok"]) == (40, 40), report["errors"]
    assert all(n > 0 for n in by_pool.values()), by_pool


def status(url: str, path: str, key: str | None = None) -> int:
    header = ["-H", f"Authorization: Bearer {key}"] if key else []
    out = node_exec(
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", *header, f"{url}{path}"
    )
    return int(out.stdout or 0)


def test_the_api_key_guards_v1_and_leaves_the_probes_and_metrics_open(
    release: Release, figure: Figure
) -> None:
    release.install(E2E_VALUES / "auth.yaml")
    release.wait_serving({"onDemand": 1, "spot": 1})
    url = release.service_url
    refused = run_load(url, "--model", "Qwen/Qwen2.5-0.5B-Instruct", *QUICK)
    allowed = run_load(url, "--api-key", API_KEY, *QUICK)
    figure(f"without the key: {refused['summary']}")
    figure(f"with the key: {allowed['summary']}")
    assert refused["errors"] == {"http_401": 40}
    assert allowed["ok"] == 40
    assert status(url, "/v1/models") == 401 and status(url, "/v1/models", API_KEY) == 200
    assert {path: status(url, path) for path in ("/health", "/metrics")} == {"/health": 200, "/metrics": 200}


# What a client of the API needs, and what it must not reach through a route (vLLM's security notes: the
# key guards /v1 only; the rest are probes, metrics, admin and engine-control endpoints).
API_PATHS = ("/v1/models", "/v1/completions", "/v1/chat/completions", "/v1/embeddings")
NON_API_PATHS = (
    "/metrics", "/health", "/ping", "/version", "/tokenize", "/detokenize", "/invocations", "/pooling",
    "/score", "/rerank", "/pause", "/resume", "/update_weights", "/sleep", "/wake_up", "/v1x/anything",
)  # fmt: skip
SERVED_NON_API = ("/metrics", "/health", "/ping", "/version")  # what the simulator answers of those


def prefix_match(prefix: str, path: str) -> bool:
    """PathPrefix (Gateway API) / Prefix (Ingress): element-wise, so /v1 matches /v1 and /v1/x, not /v1x."""
    prefix = prefix.rstrip("/")
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def route_paths(route: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (m["path"]["type"], m["path"]["value"]) for r in route["spec"]["rules"] for m in r.get("matches", [])
    ]


def ingress_paths(ingress: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["pathType"], p["path"]) for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]


def published(rules: list[tuple[str, str]], path: str) -> bool:
    return any(prefix_match(v, path) if t in ("PathPrefix", "Prefix") else v == path for t, v in rules)


def test_the_route_and_ingress_publish_the_api_paths_and_nothing_else(
    api: pykube.HTTPClient, crds: list[str], node_client: Path, release: Release, figure: Figure
) -> None:
    release.install(E2E_VALUES / "routes.yaml")
    release.wait_serving({"onDemand": 1, "spot": 1})
    route_kind = pykube.object_factory(api, "gateway.networking.k8s.io/v1", "HTTPRoute")
    (route,) = route_kind.objects(api, namespace=release.namespace)
    (ingress,) = pykube.Ingress.objects(api, namespace=release.namespace)
    url = release.service_url
    # Each unpublished path the server has does answer through the Service: the route is what keeps it in.
    assert {p: status(url, p) for p in SERVED_NON_API} == dict.fromkeys(SERVED_NON_API, 200)
    for kind, rules in (("HTTPRoute", route_paths(route.obj)), ("Ingress", ingress_paths(ingress.obj))):
        leaked = [p for p in NON_API_PATHS if published(rules, p)]
        figure(
            f"{kind} rules {rules}: publishes {[p for p in API_PATHS if published(rules, p)]}; also {leaked}"
        )
        assert all(published(rules, p) for p in API_PATHS)
        assert not leaked, f"{kind} publishes {leaked}"

"""KEDA that cannot fail silently: every trigger reads an absent series as an error (so the fallback applies),
except that a pool with no available pod reads 0 (proved by evaluating the rendered queries with promtool);
queries that match pod names for collectors without pod labels; cloud identities and bound tokens; wake
triggers and activation thresholds for pools that scale from zero."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart_harness.render import NAMESPACE, RELEASE, ROOT, Rendered, render_chart

FULL = f"{RELEASE}-vllm-inference"
PROMTOOL = ROOT / ".tools" / "bin" / "promtool"
BOTH = {"capacityType": {"provider": "karpenter"}, "pools": {"spot": {"enabled": True}}}
KEDA = {**BOTH, "autoscaling": {"mode": "keda"}}
WAKE_QUERY = 'sum(rate(haproxy_backend_http_requests_total{proxy="vllm"}[1m]))'


def _triggers(r: Rendered, pool: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in r.get("ScaledObject", f"{FULL}-{pool}")["spec"]["triggers"]}


def _with(base: dict[str, Any], **sections: Any) -> dict[str, Any]:
    out = {**base}
    for key, value in sections.items():
        out[key] = {**out.get(key, {}), **value}
    return out


def test_every_trigger_treats_an_empty_result_as_an_error() -> None:
    r = render_chart(KEDA)
    for pool in ("on-demand", "spot"):
        for trigger in _triggers(r, pool).values():
            assert trigger["metadata"]["ignoreNullValues"] == "false", (pool, trigger["name"])


def test_only_a_pool_without_available_pods_reads_zero_and_the_switch_turns_it_off() -> None:
    guarded = _triggers(render_chart(KEDA), "spot")["kv-cache-usage"]["metadata"]["query"]
    available = (
        f'sum(kube_deployment_status_replicas_available{{namespace="{NAMESPACE}",deployment=~"{FULL}-spot"}})'
    )
    assert guarded.endswith(f" or on() (0 * ({available} == 0))")
    plain = _triggers(render_chart(_with(KEDA, keda={"zeroWithoutAvailablePods": False})), "spot")
    assert plain["kv-cache-usage"]["metadata"]["query"] == guarded.split(" or on() ")[0][1:-1]
    queue = _triggers(render_chart(KEDA), "spot")["requests-waiting"]["metadata"]["query"]
    assert f'deployment=~"{FULL}-on-demand|{FULL}-spot"' in queue  # the release-wide queue: every pool


def _eval(expr: str, series: list[dict[str, str]], want: float | None, tmp_path: Path) -> str:
    """promtool's verdict on `expr` at 5m over `series` returning exactly `want` (None: no sample at all):
    "" when it agrees, its complaint otherwise."""
    samples = [] if want is None else [{"labels": "{}", "value": want}]
    test = {
        "rule_files": [],
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [{"expr": expr, "eval_time": "5m", "exp_samples": samples}],
            }
        ],
    }
    path = tmp_path / "expr.yaml"
    path.write_text(yaml.safe_dump(test))
    run = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    return "" if run.returncode == 0 else run.stdout + run.stderr


KV = {
    "series": f'vllm:kv_cache_usage_perc{{namespace="{NAMESPACE}",app_kubernetes_io_name="vllm-inference",'
    f'app_kubernetes_io_instance="{RELEASE}",app_kubernetes_io_component="pool-spot",pod="p"}}',
    "values": "0.4x10",
}


def _ksm_available(n: int) -> dict[str, str]:
    return {
        "series": "kube_deployment_status_replicas_available"
        f'{{namespace="{NAMESPACE}",deployment="{FULL}-spot"}}',
        "values": f"{n}x10",
    }


@pytest.mark.parametrize(
    ("case", "series", "want"),
    [
        ("pool-at-zero-reads-0", [_ksm_available(0)], 0.0),
        ("pods-available-but-no-vllm-series-stays-empty", [_ksm_available(2)], None),
        ("no-kube-state-metrics-either-stays-empty", [], None),
        ("serving-pool-reads-its-usage", [_ksm_available(2), KV], 0.4),
    ],
)
def test_the_rendered_kv_query_is_empty_exactly_when_the_scrape_is_broken(
    case: str, series: list[dict[str, str]], want: float | None, tmp_path: Path
) -> None:
    """Empty is what KEDA (ignoreNullValues "false") counts as an error and answers with the fallback."""
    query = _triggers(render_chart(KEDA), "spot")["kv-cache-usage"]["metadata"]["query"]
    assert _eval(query, series, want, tmp_path) == ""


def test_pod_name_matching_scopes_by_namespace_and_the_pools_pod_names() -> None:
    r = render_chart(_with(KEDA, autoscaling={"mode": "keda", "matchBy": "podName"}))
    kv = _triggers(r, "spot")["kv-cache-usage"]["metadata"]["query"]
    assert kv.startswith(
        f'(avg(vllm:kv_cache_usage_perc{{namespace="{NAMESPACE}",pod=~"{FULL}-spot-[a-z0-9]+-[a-z0-9]+"}}))'
    )
    queue = _triggers(r, "spot")["requests-waiting"]["metadata"]["query"]
    assert f'pod=~"{FULL}-(on-demand|spot)-[a-z0-9]+-[a-z0-9]+"' in queue
    own = {
        "mode": "keda",
        "scopeMatchers": 'cluster="prod",namespace="x"',
        "poolMatchers": {"spot": 'pool="s"'},
    }
    custom = _triggers(render_chart(_with(KEDA, autoscaling=own)), "spot")["kv-cache-usage"]["metadata"][
        "query"
    ]
    assert custom.startswith('(avg(vllm:kv_cache_usage_perc{cluster="prod",namespace="x",pool="s"}))')


def _auth(mode: str, **settings: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    values = _with(
        KEDA, keda={"authentication": {"enabled": True, "mode": mode, "secretName": "s", **settings}}
    )
    r = render_chart(values)
    return r.get("TriggerAuthentication", FULL)["spec"], _triggers(r, "on-demand")["kv-cache-usage"]


def test_amazon_managed_prometheus_signs_with_the_operators_identity_for_the_region() -> None:
    spec, trigger = _auth(
        "podIdentity", podIdentity={"provider": "aws", "awsRegion": "eu-west-1", "identityOwner": "keda"}
    )
    assert spec == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    assert trigger["authenticationRef"] == {"name": FULL}
    assert trigger["metadata"]["awsRegion"] == "eu-west-1" and "authModes" not in trigger["metadata"]


def test_gke_and_azure_managed_prometheus_use_their_workload_identities() -> None:
    gcp, trigger = _auth("podIdentity", podIdentity={"provider": "gcp"})
    assert gcp == {"podIdentity": {"provider": "gcp"}} and "authModes" not in trigger["metadata"]
    azure, _ = _auth("podIdentity", podIdentity={"provider": "azure-workload", "identityId": "0000-client"})
    assert azure == {"podIdentity": {"provider": "azure-workload", "identityId": "0000-client"}}


def test_a_bound_service_account_token_is_sent_as_the_bearer_token() -> None:
    spec, trigger = _auth(
        "boundServiceAccountToken", boundServiceAccountToken={"serviceAccountName": "reader"}
    )
    assert spec == {
        "boundServiceAccountToken": [{"parameter": "bearerToken", "serviceAccountName": "reader"}]
    }
    assert trigger["metadata"]["authModes"] == "bearer"
    bearer, trigger = _auth("bearer")
    assert bearer == {"secretTargetRef": [{"parameter": "bearerToken", "name": "s", "key": "bearerToken"}]}


def _scale_to_zero(**wake: Any) -> dict[str, Any]:
    return _with(
        KEDA,
        pools={"onDemand": {"enabled": False}, "spot": {"enabled": True, "minReplicas": 0}},
        autoscaling={"mode": "keda", "triggers": {"wake": {"enabled": True, "query": WAKE_QUERY, **wake}}},
    )


def test_a_pool_at_zero_gets_the_wake_trigger_on_the_gateways_metric() -> None:
    r = render_chart(_scale_to_zero(threshold=20, serverAddress="http://gw-prom.gateway.svc:9090"))
    wake = _triggers(r, "spot")["wake"]
    assert wake["metricType"] == "AverageValue"
    assert wake["metadata"] == {
        "serverAddress": "http://gw-prom.gateway.svc:9090",
        "query": WAKE_QUERY,
        "threshold": "20",
        "activationThreshold": "0",
        "ignoreNullValues": "false",
    }
    assert _triggers(r, "spot")["requests-waiting"]["metadata"]["activationThreshold"] == "2"


def test_the_wake_trigger_inherits_the_charts_credentials_only_for_the_same_prometheus() -> None:
    auth = {"authentication": {"enabled": True, "mode": "bearer", "secretName": "s"}}
    same = _triggers(render_chart(_with(_scale_to_zero(), keda=auth)), "spot")["wake"]
    assert same["authenticationRef"] == {"name": FULL} and same["metadata"]["authModes"] == "bearer"
    other = _scale_to_zero(serverAddress="http://gw-prom:9090")
    assert "authenticationRef" not in _triggers(render_chart(_with(other, keda=auth)), "spot")["wake"]
    named = _scale_to_zero(serverAddress="http://gw-prom:9090", authenticationRef="gw-prom-auth")
    assert _triggers(render_chart(_with(named, keda=auth)), "spot")["wake"]["authenticationRef"] == {
        "name": "gw-prom-auth"
    }


def test_pools_with_a_floor_get_no_wake_trigger_and_no_activation_threshold() -> None:
    r = render_chart(
        _with(
            KEDA, autoscaling={"mode": "keda", "triggers": {"wake": {"enabled": True, "query": WAKE_QUERY}}}
        )
    )
    for pool in ("on-demand", "spot"):
        triggers = _triggers(r, pool)
        assert "wake" not in triggers
        assert "activationThreshold" not in triggers["requests-waiting"]["metadata"]


def test_a_spot_pool_woken_by_the_warm_on_demand_queue_needs_its_share_above_the_activation_threshold() -> (
    None
):
    r = render_chart(_with(KEDA, pools={"spot": {"enabled": True, "minReplicas": 0}}))
    waiting = _triggers(r, "spot")["requests-waiting"]
    assert waiting["metadata"]["activationThreshold"] == "2"
    assert waiting["metadata"]["query"].startswith("(0.7 * sum(vllm:num_requests_waiting{")

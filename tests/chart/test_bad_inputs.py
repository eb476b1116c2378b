"""Bad values are refused: `helm template` fails, its message names the offending key, and nothing renders.

Two layers refuse: values.schema.json (types, enums, ranges, unknown keys; helm names the key as a JSON
pointer such as `/autoscaling/triggers/kvCacheUsage/threshold`, or the parent pointer plus the unknown key)
and the chart's `vllm-inference.validate` helper (relations and arithmetic; it names keys dotted). A case
passes when every key it lists is named in either spelling.
"""

from __future__ import annotations

import functools
import subprocess
from typing import Any

import pytest

from chart_harness.matrix import deep_merge
from chart_harness.render import CHART_DIR, HelmFailed, helm_binary, render_chart

Values = dict[str, Any]

BOTH_POOLS: Values = {"pools": {"spot": {"enabled": True}}, "capacityType": {"provider": "karpenter"}}
AUTOSCALED: Values = {"autoscaling": {"mode": "keda"}}


def _merge(*parts: Values) -> Values:
    """Values files merged as helm merges them, left to right."""
    return functools.reduce(deep_merge, parts, {})


def names_key(message: str, key: str) -> bool:
    """Whether helm's message names `key` (dotted), as the chart, the schema path or the unknown property."""
    pointer = "/" + key.replace(".", "/")
    parent, _, leaf = pointer.rpartition("/")
    return (
        key in message or f"'{pointer}'" in message or (f"'{parent}'" in message and f"'{leaf}'" in message)
    )


def trigger(name: str, **fields: Any) -> Values:
    return _merge(AUTOSCALED, {"autoscaling": {"triggers": {name: fields}}})


KV_THRESHOLD = "autoscaling.triggers.kvCacheUsage.threshold"
KV_QUERY = "autoscaling.triggers.kvCacheUsage.query"
MISTRAL_T4 = {
    "model": {"name": "mistralai/Mistral-7B-Instruct-v0.2", "maxModelLen": 4096},
    "gpu": {"type": "T4"},
}

# (id, values, keys the message must name)
CASES: list[tuple[str, Values, list[str]]] = [
    # The blog recipe's own values.
    ("recipe-threshold-string-70", trigger("kvCacheUsage", threshold="70"), [KV_THRESHOLD]),
    ("recipe-threshold-number-70", trigger("kvCacheUsage", threshold=70), [KV_THRESHOLD]),
    ("recipe-unscoped-query", trigger("kvCacheUsage", query="avg(vllm:kv_cache_usage_perc)"), [KV_QUERY]),
    ("recipe-removed-metric", trigger("kvCacheUsage", query="avg(vllm:gpu_cache_usage_perc)"), [KV_QUERY]),
    (
        "removed-metric-even-when-scoped",
        trigger("kvCacheUsage", query='avg(vllm:gpu_cache_usage_perc{namespace="inference"})'),
        [KV_QUERY],
    ),
    (
        "one-of-two-metrics-unscoped",
        trigger(
            "requestsWaiting",
            query='sum(vllm:num_requests_waiting{namespace="inference"}) + sum(vllm:num_requests_running)',
        ),
        ["autoscaling.triggers.requestsWaiting.query"],
    ),
    (
        "recipe-mistral-7b-fp16-on-t4",
        _merge(MISTRAL_T4, {"model": {"dtype": "half"}}),
        ["model.name", "gpu.type"],
    ),
    (
        "scope-matchers-not-promql",
        _merge(AUTOSCALED, {"autoscaling": {"scopeMatchers": "namespace=inference"}}),
        ["autoscaling.scopeMatchers"],
    ),
    (
        "custom-query-ignored-by-hpa",
        _merge(
            trigger("kvCacheUsage", query='avg(vllm:kv_cache_usage_perc{namespace="inference"})'),
            {"autoscaling": {"mode": "hpa"}},
        ),
        [KV_QUERY, "autoscaling.mode"],
    ),
    ("recipe-latest-tag", {"image": {"tag": "latest"}}, ["image.tag"]),
    # Schema: types, ranges, enums, unknown keys.
    ("threshold-zero", trigger("kvCacheUsage", threshold=0), [KV_THRESHOLD]),
    (
        "waiting-threshold-negative",
        trigger("requestsWaiting", threshold=-1),
        ["autoscaling.triggers.requestsWaiting.threshold"],
    ),
    ("unknown-top-level-key", {"replicaCount": 2}, ["replicaCount"]),
    ("unknown-nested-key-typo", {"pools": {"spot": {"maxReplica": 4}}}, ["pools.spot.maxReplica"]),
    (
        "unknown-key-in-trigger",
        trigger("kvCacheUsage", metricType="AverageValue"),
        ["autoscaling.triggers.kvCacheUsage.metricType"],
    ),
    ("dtype-not-a-vllm-dtype", {"model": {"dtype": "bf16"}}, ["model.dtype"]),
    ("quantization-unknown", {"model": {"quantization": "int3"}}, ["model.quantization"]),
    (
        "labels-provider-without-labels",
        _merge(
            BOTH_POOLS,
            {"capacityType": {"provider": "labels"}, "pools": {"onDemand": {"capacityLabels": {"a": "b"}}}},
        ),
        ["pools.spot.capacityLabels"],
    ),
    (
        "spot-pool-without-a-capacity-provider",
        _merge(BOTH_POOLS, {"capacityType": {"provider": "none"}}),
        ["pools.spot", "capacityType.provider"],
    ),
    (
        "no-provider-on-demand-shares-the-labelled-spot-nodes",
        _merge(
            BOTH_POOLS,
            {"capacityType": {"provider": "none"}, "pools": {"spot": {"nodeSelector": {"pool": "spot"}}}},
        ),
        ["pools.onDemand", "capacityType.provider"],
    ),
    ("capacity-provider-unknown", {"capacityType": {"provider": "azure"}}, ["capacityType.provider"]),
    ("tensor-parallel-3", {"vllm": {"tensorParallelSize": 3}}, ["vllm.tensorParallelSize"]),
    (
        "gpu-memory-utilization-above-1",
        {"vllm": {"gpuMemoryUtilization": 1.5}},
        ["vllm.gpuMemoryUtilization"],
    ),
    (
        "gpu-memory-utilization-string",
        {"vllm": {"gpuMemoryUtilization": "0.9"}},
        ["vllm.gpuMemoryUtilization"],
    ),
    ("prefix-caching-string", {"vllm": {"prefixCaching": "false"}}, ["vllm.prefixCaching"]),
    ("pull-policy-unknown", {"image": {"pullPolicy": "Sometimes"}}, ["image.pullPolicy"]),
    ("cache-mode-unknown", {"modelCache": {"mode": "hostPath"}}, ["modelCache.mode"]),
    (
        "created-pvc-read-only-many",
        {"modelCache": {"mode": "pvc", "pvc": {"accessMode": "ReadOnlyMany"}}},
        ["modelCache.pvc.accessMode"],
    ),
    ("keda-auth-mode-unknown", {"keda": {"authentication": {"mode": "oauth"}}}, ["keda.authentication.mode"]),
    ("keda-server-without-scheme", {"keda": {"serverAddress": "prometheus:9090"}}, ["keda.serverAddress"]),
    ("hpa-metric-source-cpu", {"hpa": {"metricSource": "Resource"}}, ["hpa.metricSource"]),
    (
        "alert-threshold-percent",
        {"monitoring": {"prometheusRule": {"kvCacheHighThreshold": 90}}},
        ["monitoring.prometheusRule.kvCacheHighThreshold"],
    ),
    ("spot-share-percent", {"autoscaling": {"spotShare": 70}}, ["autoscaling.spotShare"]),
    ("service-port-out-of-range", {"service": {"port": 70000}}, ["service.port"]),
    ("replicas-negative", {"pools": {"onDemand": {"replicas": -1}}}, ["pools.onDemand.replicas"]),
    ("gpu-count-zero", {"gpu": {"count": 0}}, ["gpu.count"]),
    ("gpu-type-unknown", {"gpu": {"type": "V100"}}, ["gpu.type"]),
    ("max-model-len-zero", {"model": {"maxModelLen": 0}}, ["model.maxModelLen"]),
    (
        "zone-spread-mode-unknown",
        {"topologySpread": {"zoneWhenUnsatisfiable": "Never"}},
        ["topologySpread.zoneWhenUnsatisfiable"],
    ),
    ("test-kind-unknown", {"tests": {"kind": "chat"}}, ["tests.kind"]),
    ("autoscaling-mode-unknown", {"autoscaling": {"mode": "KEDA"}}, ["autoscaling.mode"]),
    (
        "monitor-kind-unknown",
        {"monitoring": {"monitor": {"kind": "ServiceMonitor"}}},
        ["monitoring.monitor.kind"],
    ),
    ("gpu-type-lower-case", {"gpu": {"type": "t4"}}, ["gpu.type"]),
    (
        "scrape-interval-not-a-duration",
        {"monitoring": {"monitor": {"interval": "fast"}}},
        ["monitoring.monitor.interval"],
    ),
    # Chart validation: relations and arithmetic.
    ("image-digest-malformed", {"image": {"digest": "abc123"}}, ["image.digest"]),
    (
        "shm-as-large-as-the-memory-limit",
        {"shm": {"sizeLimit": "32Gi"}, "resources": {"limits": {"memory": "32768Mi"}}},
        ["shm.sizeLimit", "resources.limits.memory"],
    ),
    (
        "http-route-timeout-not-a-duration",
        {"httpRoute": {"timeouts": {"request": "10 minutes"}}},
        ["httpRoute.timeouts.request"],
    ),
    ("bfloat16-on-t4", {"model": {"dtype": "bfloat16"}, "gpu": {"type": "T4"}}, ["model.dtype"]),
    ("fp8-on-t4", {"model": {"quantization": "fp8"}, "gpu": {"type": "T4"}}, ["model.quantization"]),
    (
        "fewer-gpus-than-tensor-parallel",
        {"vllm": {"tensorParallelSize": 2}, "gpu": {"count": 1}},
        ["gpu.count", "vllm.tensorParallelSize"],
    ),
    (
        "tensor-parallel-not-dividing-heads",
        {
            "model": {"name": "Qwen/Qwen2.5-0.5B-Instruct", "maxModelLen": 4096},
            "gpu": {"type": "L4"},
            "vllm": {"tensorParallelSize": 4},
        },
        ["vllm.tensorParallelSize"],
    ),
    (
        "max-model-len-beyond-model",
        {
            "model": {"name": "mistralai/Mistral-7B-Instruct-v0.2", "maxModelLen": 65536},
            "gpu": {"type": "H100-80GB"},
        },
        ["model.maxModelLen"],
    ),
    (
        "llama-8b-full-context-on-l4",
        {"model": {"name": "meta-llama/Llama-3.1-8B-Instruct"}, "gpu": {"type": "L4"}},
        ["model.name", "model.maxModelLen"],
    ),
    (
        "grace-shorter-than-drain",
        {"pools": {"onDemand": {"terminationGracePeriodSeconds": 20}}},
        ["pools.onDemand.terminationGracePeriodSeconds"],
    ),
    (
        "spot-drain-over-gke-notice",
        _merge(
            BOTH_POOLS,
            {
                "capacityType": {"provider": "gke"},
                "pools": {"spot": {"drain": {"shutdownTimeoutSeconds": 60}}},
            },
        ),
        ["pools.spot", "capacityType.spotNoticeSeconds"],
    ),
    (
        "spot-grace-over-aks-notice",
        _merge(
            BOTH_POOLS,
            {"capacityType": {"provider": "aks"}, "pools": {"spot": {"terminationGracePeriodSeconds": 45}}},
        ),
        ["pools.spot.terminationGracePeriodSeconds"],
    ),
    (
        "spot-drain-over-declared-notice",
        _merge(BOTH_POOLS, {"capacityType": {"provider": "karpenter", "spotNoticeSeconds": 10}}),
        ["capacityType.spotNoticeSeconds"],
    ),
    (
        "rwo-pvc-shared-by-two-pools",
        _merge(BOTH_POOLS, {"modelCache": {"mode": "pvc", "pvc": {"accessMode": "ReadWriteOnce"}}}),
        ["modelCache.pvc.accessMode"],
    ),
    (
        "rwo-pvc-two-replicas",
        {
            "modelCache": {"mode": "pvc", "pvc": {"accessMode": "ReadWriteOnce"}},
            "pools": {"onDemand": {"replicas": 2}},
        },
        ["modelCache.pvc.accessMode"],
    ),
    (
        "rwo-existing-claim-autoscaled",
        _merge(
            AUTOSCALED,
            {
                "modelCache": {
                    "mode": "existingClaim",
                    "existingClaim": {"name": "c", "accessMode": "ReadWriteOnce"},
                }
            },
        ),
        ["modelCache.existingClaim.accessMode"],
    ),
    (
        "existing-claim-without-name",
        {"modelCache": {"mode": "existingClaim"}},
        ["modelCache.existingClaim.name"],
    ),
    (
        "read-only-many-mounted-writable",
        {
            "modelCache": {
                "mode": "existingClaim",
                "existingClaim": {"name": "c", "accessMode": "ReadOnlyMany"},
            }
        },
        ["modelCache.existingClaim.readOnly"],
    ),
    (
        "pdb-max-unavailable-zero",
        {"pools": {"onDemand": {"pdb": {"maxUnavailable": 0}}}},
        ["pools.onDemand.pdb"],
    ),
    (
        "pdb-min-available-equals-replicas",
        {"pools": {"onDemand": {"replicas": 2, "pdb": {"minAvailable": 2, "maxUnavailable": None}}}},
        ["pools.onDemand.pdb"],
    ),
    (
        "pdb-min-available-100-percent",
        {"pools": {"onDemand": {"pdb": {"minAvailable": "100%", "maxUnavailable": None}}}},
        ["pools.onDemand.pdb"],
    ),
    (
        "pdb-both-budgets",
        {"pools": {"onDemand": {"pdb": {"minAvailable": 1, "maxUnavailable": 1}}}},
        ["pools.onDemand.pdb"],
    ),
    (
        "min-replicas-above-max",
        _merge(AUTOSCALED, {"pools": {"onDemand": {"minReplicas": 5, "maxReplicas": 3}}}),
        ["pools.onDemand.minReplicas", "pools.onDemand.maxReplicas"],
    ),
    (
        "hpa-cannot-scale-to-zero",
        {"autoscaling": {"mode": "hpa"}, "pools": {"onDemand": {"minReplicas": 0}}},
        ["pools.onDemand.minReplicas", "autoscaling.mode"],
    ),
    (
        "no-autoscaling-metric",
        _merge(trigger("kvCacheUsage", enabled=False), trigger("requestsWaiting", enabled=False)),
        ["autoscaling.triggers.kvCacheUsage.enabled", "autoscaling.triggers.requestsWaiting.enabled"],
    ),
    (
        "spot-share-all-with-both-pools",
        _merge(AUTOSCALED, BOTH_POOLS, {"autoscaling": {"spotShare": 1.0}}),
        ["autoscaling.spotShare"],
    ),
    (
        "fallback-replicas-zero",
        _merge(AUTOSCALED, {"keda": {"fallback": {"replicas": 0}}}),
        ["keda.fallback.replicas"],
    ),
    (
        "keda-auth-without-secret",
        _merge(AUTOSCALED, {"keda": {"authentication": {"enabled": True}}}),
        ["keda.authentication.secretName"],
    ),
    (
        "no-pool-enabled",
        {"pools": {"onDemand": {"enabled": False}}},
        ["pools.onDemand.enabled", "pools.spot.enabled"],
    ),
    ("api-key-without-secret", {"auth": {"enabled": True}}, ["auth.existingSecret", "auth.apiKey"]),
    (
        "lora-adapters-without-lora",
        {"vllm": {"lora": {"adapters": [{"name": "a", "path": "/a"}]}}},
        ["vllm.lora.adapters"],
    ),
    (
        "extra-args-duplicate-chart-flag",
        {"vllm": {"extraArgs": ["--tensor-parallel-size=2"]}},
        ["vllm.extraArgs"],
    ),
    (
        "extra-args-dtype-the-size-check-would-not-see",
        {"vllm": {"extraArgs": ["--dtype", "half"]}},
        ["vllm.extraArgs"],
    ),
    (
        "extra-args-negated-prefix-caching",
        {"vllm": {"extraArgs": ["--no-enable-prefix-caching"]}},
        ["vllm.extraArgs"],
    ),
    (
        "extra-args-max-num-seqs-the-alert-would-not-see",
        {"vllm": {"extraArgs": ["--max-num-seqs=512"]}},
        ["vllm.extraArgs"],
    ),
    # Keys of chart 0.1, refused by name (files/removed-values.yaml).
    (
        "removed-autoscaling-enabled",
        {"autoscaling": {"enabled": True}},
        ["autoscaling.enabled", "autoscaling.mode"],
    ),
    ("removed-keda-enabled", {"keda": {"enabled": False}}, ["keda.enabled", "autoscaling.mode"]),
    (
        "removed-service-monitor",
        {"monitoring": {"serviceMonitor": {"enabled": True, "interval": "30s"}}},
        ["monitoring.serviceMonitor", "monitoring.monitor.kind"],
    ),
    (
        "extra-args-api-key-on-command-line",
        {"vllm": {"extraArgs": ["--api-key", "secret"]}},
        ["vllm.extraArgs"],
    ),
    ("ingress-without-hosts", {"ingress": {"enabled": True}}, ["ingress.hosts"]),
    ("http-route-without-gateway", {"httpRoute": {"enabled": True}}, ["httpRoute.parentRefs"]),
]


@pytest.mark.parametrize(("values", "keys"), [(v, k) for _, v, k in CASES], ids=[c[0] for c in CASES])
def test_bad_value_is_refused_naming_the_key(values: Values, keys: list[str]) -> None:
    with pytest.raises(HelmFailed) as failed:
        render_chart(values)
    message = failed.value.stderr
    missing = [k for k in keys if not names_key(message, k)]
    assert not missing, f"helm failed without naming {missing}:\n{message}"


def test_there_are_at_least_forty_bad_inputs() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


def test_all_problems_are_reported_in_one_failure() -> None:
    recipe = _merge(
        MISTRAL_T4,
        BOTH_POOLS,
        trigger("kvCacheUsage", threshold=0.7, query="avg(vllm:gpu_cache_usage_perc)"),
        {"image": {"tag": "latest"}, "modelCache": {"mode": "pvc", "pvc": {"accessMode": "ReadWriteOnce"}}},
    )
    with pytest.raises(HelmFailed) as failed:
        render_chart(recipe)
    for key in ("image.tag", "image.vllmVersion", "model.name", "modelCache.pvc.accessMode", KV_QUERY):
        assert key in failed.value.stderr
    # latest says no vLLM version: the drain's --shutdown-timeout cannot be checked against it either
    assert "6 problem(s)" in failed.value.stderr


def _helm_template(*extra: str) -> subprocess.CompletedProcess[str]:
    argv = [helm_binary(), "template", "t", str(CHART_DIR), *extra]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def test_chart_refuses_the_string_threshold_even_when_schema_validation_is_skipped() -> None:
    run = _helm_template(
        "--skip-schema-validation", "--set", "autoscaling.mode=keda", "--set-string", f"{KV_THRESHOLD}=70"
    )
    assert run.returncode != 0
    assert KV_THRESHOLD in run.stderr and "must be a number" in run.stderr


def test_chart_refuses_threshold_70_even_when_schema_validation_is_skipped() -> None:
    run = _helm_template(
        "--skip-schema-validation", "--set", "autoscaling.mode=keda", "--set", f"{KV_THRESHOLD}=70"
    )
    assert run.returncode != 0
    assert KV_THRESHOLD in run.stderr and "use 0.7" in run.stderr


def test_a_refused_render_prints_no_manifest() -> None:
    run = _helm_template("--set", "image.tag=latest")
    assert run.returncode != 0
    assert run.stdout == ""


OLD_VALUES = [
    ({"autoscaling": {"enabled": True}}, "autoscaling.mode: keda"),
    ({"autoscaling": {"enabled": True}, "keda": {"enabled": False}}, "autoscaling.mode: hpa"),
    ({"autoscaling": {"enabled": False}}, "autoscaling.mode: none"),
    ({"monitoring": {"serviceMonitor": {"enabled": True}}}, "monitoring.monitor.kind: serviceMonitor"),
    (
        {"monitoring": {"serviceMonitor": {"enabled": True, "podMonitor": True}}},
        "monitoring.monitor.kind: podMonitor",
    ),
    ({"monitoring": {"serviceMonitor": {"interval": "30s"}}}, "monitoring.monitor.kind: none"),
]


@pytest.mark.parametrize(("values", "write"), OLD_VALUES, ids=[w.replace(": ", "=") for _, w in OLD_VALUES])
def test_a_removed_key_is_refused_with_the_replacement_its_old_values_meant(
    values: Values, write: str
) -> None:
    with pytest.raises(HelmFailed) as failed:
        render_chart(values)
    assert f"write {write} (what" in failed.value.stderr


def test_the_chart_refuses_mode_typos_even_when_schema_validation_is_skipped() -> None:
    run = _helm_template(
        "--skip-schema-validation", "--set", "autoscaling.mode=KEDA", "--set", "monitoring.monitor.kind=pod"
    )
    assert run.returncode != 0
    assert 'autoscaling.mode is "KEDA"' in run.stderr and 'monitoring.monitor.kind is "pod"' in run.stderr

"""Bad values are refused: `helm template` fails, its message names the offending key, and nothing renders.

Two layers refuse: values.schema.json (types, enums, ranges, unknown keys; helm names the key as a JSON
pointer such as `/autoscaling/triggers/kvCacheUsage/threshold`, or the parent pointer plus the unknown key)
and the chart's `vllm-inference.validate` helper (relations and arithmetic; it names keys dotted). A case
passes when every key it lists is named in either spelling.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

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


BATCH: Values = {
    "pools": {"onDemand": {"enabled": False}, "spot": {"enabled": False}},
    "capacityType": {"provider": "gke"},
    "batch": {"enabled": True, "data": {"existingClaim": "batch-data"}},
}


def batch(**fields: Any) -> Values:
    return _merge(BATCH, {"batch": fields})


KV_THRESHOLD = "autoscaling.triggers.kvCacheUsage.threshold"
TRIGGERS = "autoscaling.triggers."
# Every threshold KEDA (or the HPA) reads, as (trigger, key)
KEDA_THRESHOLDS = [
    ("kvCacheUsage", "threshold"),
    ("requestsWaiting", "threshold"),
    ("requestsWaiting", "activationThreshold"),
    ("wake", "threshold"),
    ("wake", "activationThreshold"),
]
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
        "gpu-memory-utilization-not-a-number",
        {"vllm": {"gpuMemoryUtilization": "ninety"}},
        ["vllm.gpuMemoryUtilization"],
    ),
    (
        "gpu-memory-utilization-decimal-string-out-of-range",
        {"vllm": {"gpuMemoryUtilization": "1.5"}},
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
    # Issue 15: the restricted runtime.
    ("env-repeats-home", {"vllm": {"env": [{"name": "HOME", "value": "/root"}]}}, ["vllm.env", "HOME"]),
    (
        "env-repeats-the-api-key",
        {"vllm": {"env": [{"name": "VLLM_API_KEY", "value": "k"}]}},
        ["vllm.env", "VLLM_API_KEY"],
    ),
    (
        "ephemeral-storage-below-the-empty-dirs",
        {"resources": {"limits": {"memory": "32Gi", "ephemeral-storage": "20Gi"}}},
        ["resources.limits.ephemeral-storage", "home.sizeLimit", "modelCache.emptyDir.sizeLimit"],
    ),
    ("home-user-not-a-user-name", {"home": {"userName": "Root User"}}, ["home.userName"]),
    (
        "compile-cache-on-a-read-only-claim",
        {
            "modelCache": {
                "mode": "existingClaim",
                "persistCompileCache": True,
                "existingClaim": {"name": "c", "accessMode": "ReadOnlyMany", "readOnly": True},
            }
        },
        ["modelCache.persistCompileCache", "modelCache.existingClaim.readOnly"],
    ),
    # Exposure: only the API, never /metrics or the admin paths.
    (
        "exposure-publishes-everything",
        {"exposure": {"paths": [{"path": "/", "pathType": "Prefix"}]}},
        ["exposure.paths"],
    ),
    (
        "exposure-publishes-metrics",
        {"exposure": {"paths": [{"path": "/metrics", "pathType": "Exact"}]}},
        ["exposure.paths"],
    ),
    (
        "exposure-prefix-covers-the-lora-admin-endpoints",
        {"exposure": {"paths": [{"path": "/v1", "pathType": "Prefix"}]}},
        ["exposure.paths", "/v1/load_lora_adapter"],
    ),
    (
        "exposure-publishes-tokenize",
        {"exposure": {"paths": [{"path": "/tokenize", "pathType": "Exact"}]}},
        ["exposure.paths"],
    ),
    (
        "exposure-path-type-implementation-specific",
        {"exposure": {"paths": [{"path": "/v1/models", "pathType": "ImplementationSpecific"}]}},
        ["exposure.paths.0.pathType"],
    ),
    (
        "ingress-host-with-its-own-paths",
        {
            "ingress": {
                "enabled": True,
                "hosts": [{"host": "h", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            }
        },
        ["ingress.hosts[0].paths", "exposure.paths"],
    ),
    (
        "removed-http-route-path-prefix",
        {"httpRoute": {"pathPrefix": "/"}},
        ["httpRoute.pathPrefix", "exposure.paths"],
    ),
    (
        "removed-monitoring-namespace-selector",
        {"networkPolicy": {"monitoringNamespaceSelector": {"name": "monitoring"}}},
        ["networkPolicy.monitoringNamespaceSelector", "networkPolicy.monitoring.namespaceSelector"],
    ),
    (
        "scraper-ip-block-not-a-cidr",
        {"networkPolicy": {"monitoring": {"ipBlocks": ["198.18.0.1"]}}},
        ["networkPolicy.monitoring.ipBlocks.0"],
    ),
    # Autoscaling that cannot fail silently, and a pool at zero that something can wake.
    (
        "scale-to-zero-with-only-vllm-triggers",
        _merge(
            AUTOSCALED, BOTH_POOLS, {"pools": {"onDemand": {"enabled": False}, "spot": {"minReplicas": 0}}}
        ),
        ["pools.spot.minReplicas", "autoscaling.triggers.wake"],
    ),
    (
        "scale-to-zero-on-a-custom-queue-query",
        _merge(
            trigger("requestsWaiting", query='sum(vllm:num_requests_waiting{namespace="inference"})'),
            BOTH_POOLS,
            {"pools": {"spot": {"minReplicas": 0}}},
        ),
        ["pools.spot.minReplicas", "autoscaling.triggers.wake"],
    ),
    ("wake-without-a-query", trigger("wake", enabled=True), ["autoscaling.triggers.wake.query"]),
    (
        "wake-on-a-vllm-series",
        trigger("wake", enabled=True, query='sum(vllm:num_requests_waiting{namespace="inference"})'),
        ["autoscaling.triggers.wake.query"],
    ),
    (
        "wake-threshold-zero",
        trigger("wake", enabled=True, threshold=0),
        ["autoscaling.triggers.wake.threshold"],
    ),
    (
        "activation-threshold-negative",
        trigger("requestsWaiting", activationThreshold=-1),
        ["autoscaling.triggers.requestsWaiting.activationThreshold"],
    ),
    # KEDA rounds thresholds to 3 decimals (quantityFromFloat64): below 0.001 a threshold becomes 0 (or not
    # the figure asked for) and the pool never scales on any trigger. A number: the schema refuses it; a
    # decimal string (as --set passes it): the chart does.
    *(
        (
            f"{name}-{key}-{form}-below-keda-resolution",
            trigger(name, **{key: value}),
            [TRIGGERS + f"{name}.{key}"],
        )
        for name, key in KEDA_THRESHOLDS
        for form, value in (("number", 0.0004), ("string", "0.0004"))
    ),
    (
        "pod-name-matching-with-hpa-external-metrics",
        {"autoscaling": {"mode": "hpa", "matchBy": "podName"}},
        ["autoscaling.matchBy", "hpa.metricSource"],
    ),
    ("match-by-unknown", {"autoscaling": {"matchBy": "labels"}}, ["autoscaling.matchBy"]),
    (
        "pool-matchers-not-promql",
        _merge(AUTOSCALED, {"autoscaling": {"poolMatchers": {"onDemand": "pool=od"}}}),
        ["autoscaling.poolMatchers.onDemand"],
    ),
    (
        "amazon-managed-prometheus-without-a-region",
        _merge(AUTOSCALED, {"keda": {"authentication": {"enabled": True, "mode": "podIdentity"}}}),
        ["keda.authentication.podIdentity.awsRegion"],
    ),
    (
        "bound-token-without-a-service-account",
        _merge(
            AUTOSCALED, {"keda": {"authentication": {"enabled": True, "mode": "boundServiceAccountToken"}}}
        ),
        ["keda.authentication.boundServiceAccountToken.serviceAccountName"],
    ),
    (
        "pod-identity-provider-unknown",
        {"keda": {"authentication": {"podIdentity": {"provider": "azure"}}}},
        ["keda.authentication.podIdentity.provider"],
    ),
    (
        "on-demand-maximum-without-failover-headroom",
        _merge(AUTOSCALED, BOTH_POOLS, {"pools": {"onDemand": {"maxReplicas": 3}}}),
        ["pools.onDemand.maxReplicas", "autoscaling.onDemandHeadroom"],
    ),
    ("headroom-above-one", {"autoscaling": {"onDemandHeadroom": 2}}, ["autoscaling.onDemandHeadroom"]),
    (
        "replicas-under-an-autoscaler",
        _merge(AUTOSCALED, {"pools": {"onDemand": {"replicas": 3}}}),
        ["pools.onDemand.replicas", "autoscaling.mode"],
    ),
    # Rollouts that report truthfully and cannot deadlock on a full GPU node.
    (
        "surge-without-spare-gpus",
        {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}},
        ["updateStrategy.rollingUpdate.maxSurge", "rollout.spareGpuCapacity"],
    ),
    (
        "surge-percent-without-spare-gpus",
        {
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            }
        },
        ["updateStrategy.rollingUpdate.maxSurge", "rollout.spareGpuCapacity"],
    ),
    (
        "rollout-that-can-replace-nothing",
        {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
        ["updateStrategy.rollingUpdate.maxSurge", "maxUnavailable"],
    ),
    (
        "progress-deadline-below-the-startup-budget",
        {"rollout": {"progressDeadlineSeconds": 600}},
        ["rollout.progressDeadlineSeconds", "probes.startup"],
    ),
    (
        "startup-budget-below-the-load-time-floor",
        {
            "model": {"name": "neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8", "maxModelLen": 8192},
            "gpu": {"type": "H100-80GB"},
            "vllm": {"tensorParallelSize": 2},
            "probes": {"startup": {"periodSeconds": 10, "failureThreshold": 6}},
        },
        ["probes.startup", "probes.startup.failureThreshold"],
    ),
    # Spot pools that drain without hard kills.
    (
        "aws-spot-budget-that-holds-a-reclaim",
        _merge(AUTOSCALED, BOTH_POOLS, {"pools": {"spot": {"maxReplicas": 3, "pdb": {"maxUnavailable": 1}}}}),
        ["pools.spot.pdb", "capacityType.spotDrainHonoursPdb"],
    ),
    (
        "prestop-shorter-than-the-load-balancer-deregistration",
        {"capacityType": {"loadBalancerDeregistrationSeconds": 30}},
        ["capacityType.loadBalancerDeregistrationSeconds", "drain.preStopSleepSeconds"],
    ),
    (
        "spot-prestop-shorter-than-the-load-balancer-deregistration",
        _merge(
            BOTH_POOLS,
            {"capacityType": {"loadBalancerDeregistrationSeconds": 10}, "drain": {"preStopSleepSeconds": 10}},
        ),
        [
            "pools.spot",
            "pools.spot.drain.preStopSleepSeconds",
            "capacityType.loadBalancerDeregistrationSeconds",
        ],
    ),
    # GPU type steers scheduling; no cloud is assumed.
    (
        "gpu-type-that-the-provider-does-not-offer",
        {"gpu": {"type": "A10G"}, "capacityType": {"provider": "gke"}},
        ["gpu.type", "gpu.nodeLabel"],
    ),
    ("gpu-node-label-unknown", {"gpu": {"nodeLabel": "nvidia"}}, ["gpu.nodeLabel"]),
    # Version-aware flags.
    (
        "shutdown-timeout-on-vllm-0.17",
        {"image": {"tag": "v0.17.1"}},
        ["drain.shutdownTimeoutSeconds", "--shutdown-timeout", "image.tag"],
    ),
    (
        "digest-without-the-vllm-version",
        {"image": {"digest": "sha256:" + "ab" * 32}},
        ["image.vllmVersion"],
    ),
    ("nightly-tag-without-the-vllm-version", {"image": {"tag": "nightly"}}, ["image.vllmVersion"]),
    ("vllm-version-not-a-version", {"image": {"vllmVersion": "latest"}}, ["image.vllmVersion"]),
    # Small sharp edges.
    ("model-name-null", {"model": {"name": None}}, ["model.name"]),
    ("model-name-empty", {"model": {"name": ""}}, ["model.name"]),
    ("image-tag-a-number", {"image": {"tag": 0.1}}, ["image.tag", "--set-string"]),
    ("vllm-version-a-number", {"image": {"vllmVersion": 0.18}}, ["image.vllmVersion", "--set-string"]),
    ("model-revision-a-number", {"model": {"revision": 1234567}}, ["model.revision", "--set-string"]),
    ("max-num-seqs-a-string", {"vllm": {"maxNumSeqs": "64"}}, ["vllm.maxNumSeqs"]),
    (
        "extra-args-underscore-spelling",
        {"vllm": {"extraArgs": ["--max_num_seqs=8"]}},
        ["vllm.extraArgs", "--max_num_seqs"],
    ),
    ("extra-args-short-alias", {"vllm": {"extraArgs": ["-tp", "2"]}}, ["vllm.extraArgs", "-tp"]),
    ("extra-args-model", {"vllm": {"extraArgs": ["--model", "other/model"]}}, ["vllm.extraArgs", "--model"]),
    (
        "extra-args-shutdown-timeout",
        {"vllm": {"extraArgs": ["--shutdown-timeout=60"]}},
        ["vllm.extraArgs", "--shutdown-timeout"],
    ),
    (
        "gpus-the-server-never-uses",
        {"gpu": {"count": 2}},
        ["gpu.count", "vllm.tensorParallelSize", "gpu.allowUnusedGpus"],
    ),
    (
        "keda-matchers-not-promql",
        {"monitoring": {"prometheusRule": {"kedaMatchers": "namespace=x"}}},
        ["monitoring.prometheusRule.kedaMatchers"],
    ),
    (
        "kube-state-metrics-matchers-not-promql",
        {"monitoring": {"kubeStateMetrics": {"matchers": "job=ksm"}}},
        ["monitoring.kubeStateMetrics.matchers"],
    ),
    # Batch mode.
    (
        "batch-next-to-a-serving-pool",
        _merge(BATCH, {"pools": {"spot": {"enabled": True}}}),
        ["batch.enabled", "pools.spot.enabled"],
    ),
    ("batch-without-data", batch(data={"existingClaim": ""}), ["batch.data"]),
    (
        "batch-data-claim-and-volume",
        batch(data={"volume": {"nfs": {"server": "x", "path": "/b"}}}),
        ["batch.data"],
    ),
    ("batch-input-absolute", batch(input={"path": "/etc/passwd"}), ["batch.input.path"]),
    ("batch-output-escapes-the-volume", batch(output={"dir": "out/../../x"}), ["batch.output.dir"]),
    ("batch-parallelism-over-shards", batch(shards=2, parallelism=3), ["batch.parallelism"]),
    ("batch-zero-shards", batch(shards=0), ["batch.shards"]),
    ("batch-fails-on-a-signal", batch(failJobExitCodes=[2, 143]), ["batch.failJobExitCodes.1"]),
    (
        "batch-cron-concurrency-allow",
        batch(schedule="0 2 * * *", concurrencyPolicy="Allow"),
        ["batch.concurrencyPolicy"],
    ),
    ("batch-pool-unknown", batch(pool="gpu"), ["batch.pool"]),
    ("batch-key-typo", batch(shard=4), ["batch.shard"]),
    ("batch-autoscaled", _merge(BATCH, {"autoscaling": {"mode": "keda"}}), ["autoscaling.mode"]),
    ("batch-behind-an-ingress", _merge(BATCH, {"ingress": {"enabled": True}}), ["ingress.enabled"]),
    (
        "batch-on-spot-without-a-provider",
        _merge(BATCH, {"capacityType": {"provider": "none"}}),
        ["batch.pool", "capacityType.provider"],
    ),
    (
        "batch-with-lora-adapters",
        _merge(BATCH, {"vllm": {"lora": {"enabled": True, "adapters": [{"name": "a", "path": "/a"}]}}}),
        ["vllm.lora.adapters"],
    ),
]


@pytest.mark.parametrize(("values", "keys"), [(v, k) for _, v, k in CASES], ids=[c[0] for c in CASES])
def test_bad_value_is_refused_naming_the_key(values: Values, keys: list[str]) -> None:
    with pytest.raises(HelmFailed) as failed:
        render_chart(values)
    message = failed.value.stderr
    missing = [k for k in keys if not names_key(message, k)]
    assert not missing, f"helm failed without naming {missing}:\n{message}"


def test_there_are_at_least_a_hundred_and_twenty_bad_inputs() -> None:
    assert len(CASES) >= 120
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
        "--skip-schema-validation",
        "--set",
        "autoscaling.mode=keda",
        "--set-string",
        f"{KV_THRESHOLD}=seventy",
    )
    assert run.returncode != 0
    assert KV_THRESHOLD in run.stderr and "must be a number" in run.stderr
    # a decimal string, as --set passes every decimal, is read as its number, and 70 is not a fraction
    run = _helm_template("--set", "autoscaling.mode=keda", "--set-string", f"{KV_THRESHOLD}=70")
    assert run.returncode != 0 and "use 0.7" in run.stderr


def test_decimals_given_with_set_are_accepted_as_the_numbers_they_are() -> None:
    """helm --set passes 0.9 as the string "0.9" (only whole numbers become numbers): the chart takes it."""
    run = _helm_template(
        "--set", "vllm.gpuMemoryUtilization=0.85", "--set", "autoscaling.mode=keda",
        "--set", f"{KV_THRESHOLD}=0.6", "--set", "autoscaling.spotShare=0.6",
        "--set", "monitoring.prometheusRule.enabled=true",
        "--set", "monitoring.prometheusRule.kvCacheHighThreshold=0.95",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert '- "0.85"' in run.stdout and 'threshold: "0.6"' in run.stdout and "> 0.95" in run.stdout


def test_chart_refuses_threshold_70_even_when_schema_validation_is_skipped() -> None:
    run = _helm_template(
        "--skip-schema-validation", "--set", "autoscaling.mode=keda", "--set", f"{KV_THRESHOLD}=70"
    )
    assert run.returncode != 0
    assert KV_THRESHOLD in run.stderr and "use 0.7" in run.stderr


@pytest.mark.parametrize("mode", ["keda", "hpa"])
def test_a_kv_threshold_keda_would_round_to_nothing_is_refused_with_why_and_what_to_do(mode: str) -> None:
    """The autoscaling bench's "derived" release: threshold 0.00042 became 0 and the pool never scaled,
    not even on its queue trigger. --set passes the decimal as a string, which the schema cannot range-check;
    the chart refuses it (also without the schema)."""
    for skip in ([], ["--skip-schema-validation"]):
        run = _helm_template(*skip, "--set", f"autoscaling.mode={mode}", "--set", f"{KV_THRESHOLD}=0.00042")
        assert run.returncode != 0 and run.stdout == ""
        assert f"{KV_THRESHOLD} is 0.00042: KEDA rounds thresholds to 3 decimals" in run.stderr
        assert "at 0 the pool never scales" in run.stderr
        assert "set autoscaling.triggers.kvCacheUsage.enabled: false" in run.stderr


def test_every_keda_threshold_below_its_resolution_is_refused_by_the_chart_without_the_schema() -> None:
    sets = [f"{TRIGGERS}{name}.{key}=0.0009" for name, key in KEDA_THRESHOLDS]
    run = _helm_template(
        "--skip-schema-validation", "--set", "autoscaling.mode=keda", *(a for s in sets for a in ("--set", s))
    )
    assert run.returncode != 0
    for name, key in KEDA_THRESHOLDS:
        assert f"{TRIGGERS}{name}.{key} is 0.0009" in run.stderr
    assert f"{len(KEDA_THRESHOLDS)} problem(s)" in run.stderr


WAKE_QUERY = 'sum(rate(haproxy_backend_http_requests_total{backend="inference"}[1m]))'


@pytest.mark.parametrize("form", ["--set", "values"])
def test_thresholds_at_kedas_resolution_render_as_given(form: str, tmp_path: Path) -> None:
    """0.001, the smallest threshold KEDA can hold, is accepted as a number and as a --set string; 0 stays
    a valid activation threshold (wake on the first request)."""
    smallest = {"kvCacheUsage": {"threshold": 0.001}, "requestsWaiting": {"threshold": 0.001}}
    wake = {"enabled": True, "query": WAKE_QUERY, "threshold": 0.001, "activationThreshold": 0}
    triggers = {**smallest, "wake": wake}
    if form == "--set":
        extra = [
            a for name, fields in triggers.items() for key, value in fields.items()
            for a in ("--set-string" if key == "query" else "--set", f"{TRIGGERS}{name}.{key}={value}")
        ]  # fmt: skip
    else:
        (tmp_path / "v.yaml").write_text(yaml.safe_dump({"autoscaling": {"triggers": triggers}}))
        extra = ["-f", str(tmp_path / "v.yaml")]
    run = _helm_template("--set", "autoscaling.mode=keda", "--set", "pools.onDemand.minReplicas=0", *extra)
    assert run.returncode == 0, run.stderr
    scaled = [doc for doc in yaml.safe_load_all(run.stdout) if doc and doc["kind"] == "ScaledObject"]
    rendered = {t["name"]: t["metadata"] for doc in scaled for t in doc["spec"]["triggers"]}
    assert {name: t["threshold"] for name, t in rendered.items()} == dict.fromkeys(rendered, "0.001")
    assert len(rendered) == 3 and rendered["wake"]["activationThreshold"] == "0"


def test_the_hpa_holds_the_smallest_threshold_as_one_milli_unit() -> None:
    """The HPA compares quantities in milli-units: 0.001 is "1m", the smallest target it can hold."""
    smallest = [f"{TRIGGERS}{name}.threshold=0.001" for name in ("kvCacheUsage", "requestsWaiting")]
    run = _helm_template("--set", "autoscaling.mode=hpa", *(a for s in smallest for a in ("--set", s)))
    assert run.returncode == 0, run.stderr
    hpas = [doc for doc in yaml.safe_load_all(run.stdout) if doc and doc["kind"] == "HorizontalPodAutoscaler"]
    targets = [m["external"]["target"] for hpa in hpas for m in hpa["spec"]["metrics"]]
    assert targets == [{"type": "Value", "value": "1m"}, {"type": "AverageValue", "averageValue": "1m"}]


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


def test_an_unquoted_version_is_refused_with_what_to_type(tmp_path: Path) -> None:
    """`vllmVersion: 0.20` in a values file is the YAML number 0.2: refused, saying to quote it; quoted (or
    with --set-string) it renders --shutdown-timeout, which 0.20 has."""
    unquoted = tmp_path / "v.yaml"
    unquoted.write_text("image:\n  vllmVersion: 0.20\n  digest: sha256:" + "ab" * 32 + "\n")
    run = _helm_template("-f", str(unquoted))
    assert run.returncode != 0
    assert (
        "image.vllmVersion is the number 0.2" in run.stderr
        and "--set-string image.vllmVersion=" in run.stderr
    )
    quoted = _helm_template("-f", str(unquoted), "--set-string", "image.vllmVersion=0.20")
    assert quoted.returncode == 0, quoted.stderr
    assert "--shutdown-timeout" in quoted.stdout


def test_a_numeric_flag_given_as_a_string_is_refused_with_what_to_type_when_the_schema_is_skipped() -> None:
    run = _helm_template("--skip-schema-validation", "--set-string", "vllm.maxNumSeqs=64")
    assert run.returncode != 0
    assert 'vllm.maxNumSeqs is the string "64"' in run.stderr and "write 64 unquoted" in run.stderr


def test_model_name_null_gets_the_charts_message_not_a_template_error() -> None:
    for how in (["--set", "model.name=null"], ["--skip-schema-validation", "--set", "model.name=null"]):
        run = _helm_template(*how)
        assert run.returncode != 0
        assert "model.name is empty: name the Hugging Face model id" in run.stderr, run.stderr
        assert "error calling" not in run.stderr and "nil pointer" not in run.stderr


def test_bad_batch_values_are_refused_without_the_schema() -> None:
    sets = [
        "pools.onDemand.enabled=false",
        "capacityType.provider=gke",
        "batch.enabled=true",
        "batch.data.existingClaim=batch-data",
        "batch.input.path=/abs.jsonl",
        "batch.failJobExitCodes={2,137}",
        "batch.shards=2",
        "batch.parallelism=5",
    ]
    run = _helm_template("--skip-schema-validation", *[a for s in sets for a in ("--set", s)])
    assert run.returncode != 0
    for key in ("batch.input.path", "batch.failJobExitCodes has 137", "batch.parallelism is 5"):
        assert key in run.stderr, run.stderr
    assert "3 problem(s)" in run.stderr

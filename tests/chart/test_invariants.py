"""Invariants that hold for every render of the matrix (every preset and ci file x toggles x minor).

Each test sweeps the shared render set (rendered once per run, see chart_harness/render_cache.py), states one
property, and asserts it checked something: a sweep that saw no object of its kind fails rather than passes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from chart_harness import objects as k
from chart_harness.render import NAMESPACE, RELEASE, Rendered
from chart_harness.renders import Case, Finding, assert_sweep, sweep
from vllm_model.catalog import gpu_node_labels
from vllm_plan.chart_values import dig

STANDARD_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
)
UNSTABLE_SELECTOR_LABELS = {"app.kubernetes.io/version", "helm.sh/chart"}
# Spot notice (seconds) per provider, from the cloud docs (see shared/VLLM.md); "labels"/"none" use the value.
# GKE's notice is 30 s but its graceful node shutdown gives non-system pods only the first 15.
SPOT_NOTICE = {"gke": 15, "aks": 30, "eks": 120, "karpenter": 120}
# Capacity-type node labels per provider: (spot node labels, on-demand node labels).
CAPACITY_NODES = {
    "karpenter": ({"karpenter.sh/capacity-type": "spot"}, {"karpenter.sh/capacity-type": "on-demand"}),
    "eks": ({"eks.amazonaws.com/capacityType": "SPOT"}, {"eks.amazonaws.com/capacityType": "ON_DEMAND"}),
    "gke": ({"cloud.google.com/gke-spot": "true"}, {}),
    "aks": ({"kubernetes.azure.com/scalesetpriority": "spot"}, {}),
}
AKS_SPOT_TAINT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}
# The taint GKE, EKS GPU node groups / Karpenter GPU NodePools and the GPU Operator put on GPU nodes.
NVIDIA_GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
# The node label each gpu.nodeLabel source matches (the providers' documented labels).
GPU_LABEL_KEYS = {
    "gke": "cloud.google.com/gke-accelerator",
    "karpenter": "karpenter.k8s.aws/instance-gpu-name",
    "aks": "node.kubernetes.io/instance-type",
    "gfd": "nvidia.com/gpu.product",
}
REMOVED_METRICS = ("vllm:gpu_cache_usage_perc", "vllm:gpu_prefix_cache", "vllm:time_per_output_token_seconds")


def values(case: Case) -> dict[str, Any]:
    return case.scenario.values


def gpu_resource(case: Case) -> str:
    return dig(values(case), "gpu.resourceName", "nvidia.com/gpu")


def pool_key(pod_meta: dict[str, Any], case: Case | None = None) -> str | None:
    """onDemand / spot from the pool component label (pool-on-demand / pool-spot); a batch pod (component
    batch) is on the pool `batch.pool` names, when the case is given."""
    component = k.labels(pod_meta).get("app.kubernetes.io/component", "")
    if component == "batch" and case is not None:
        return str(dig(values(case), "batch.pool", "spot"))
    if not component.startswith("pool-"):
        return None
    first, *rest = component.removeprefix("pool-").split("-")
    return first + "".join(w.capitalize() for w in rest)


def server_pods(case: Case, r: Rendered) -> Iterator[tuple[dict, dict, dict, dict]]:
    """(workload, pod metadata, pod spec, vLLM container) of every GPU-requesting pod in the render: the
    pools' servers and the batch Job's shards (one pod template: placement, GPUs, security alike)."""
    for owner, meta, spec in k.pod_specs(r.objects):
        for c in k.gpu_containers(spec, gpu_resource(case)):
            yield owner, meta, spec, c


def serving_pods(case: Case, r: Rendered) -> Iterator[tuple[dict, dict, dict, dict]]:
    """server_pods without the batch shards (no port, probes or server command; see test_tpl_batch.py)."""
    for owner, meta, spec, c in server_pods(case, r):
        if owner["kind"] not in ("Job", "CronJob"):
            yield owner, meta, spec, c


def drain(case: Case, pool: str) -> dict[str, int]:
    v = values(case)
    out = {}
    for field in ("preStopSleepSeconds", "shutdownTimeoutSeconds", "marginSeconds"):
        own = dig(v, f"pools.{pool}.drain.{field}")
        out[field] = int(own if own is not None else dig(v, f"drain.{field}", 0))
    return out


def test_every_pool_deployment_runs_a_gpu_server() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for d in r.of_kind("Deployment"):
            spec = d["spec"]["template"]["spec"]
            yield bool(k.gpu_containers(spec, gpu_resource(case))), f"{d['metadata']['name']} requests no GPU"

    assert_sweep(*sweep(check))


def test_gpu_pods_tolerate_the_gpu_pool_taints() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        for owner, meta, spec, _c in server_pods(case, r):
            pool = pool_key(meta, case)
            # the chart's contract: `tolerations` (and the pool's own) name the taints of the GPU pool nodes
            declared = (v.get("tolerations") or []) + (dig(v, f"pools.{pool}.tolerations") or [])
            taints = [
                {"key": t["key"], "value": t.get("value"), "effect": t["effect"]}
                for t in declared
                if t.get("key") and t.get("effect")  # an Exists-all toleration names no taint
            ]
            if pool == "spot" and dig(v, "capacityType.provider") == "aks":
                taints.append(AKS_SPOT_TAINT)
            if dig(v, "gpu.tolerateGpuTaint"):
                taints.append(NVIDIA_GPU_TAINT)
            tolerations = spec.get("tolerations") or []
            for taint in taints:
                yield (
                    k.tolerates(tolerations, taint),
                    f"{owner['metadata']['name']} does not tolerate {taint}",
                )

    assert_sweep(*sweep(check))


def gpu_node(case: Case) -> dict[str, str]:
    """Labels a node with the case's GPU carries under every provider's GPU label (from the catalogue)."""
    labels = gpu_node_labels().get(dig(values(case), "gpu.type") or "", {})
    return {GPU_LABEL_KEYS[source]: found[0] for source, found in labels.items() if found}


def _node_matches(spec: dict[str, Any], node_labels: dict[str, str]) -> bool:
    for key, value in (spec.get("nodeSelector") or {}).items():
        if node_labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(k.selector_matches(t, node_labels) for t in terms)


def test_spot_and_on_demand_pools_schedule_only_on_their_capacity_type() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        provider = dig(v, "capacityType.provider")
        if provider == "labels":  # each pool's own labels mark its nodes
            nodes = (dig(v, "pools.spot.capacityLabels", {}), dig(v, "pools.onDemand.capacityLabels", {}))
        elif provider in CAPACITY_NODES:
            nodes = CAPACITY_NODES[provider]
        else:
            return  # provider "none": no capacity-type isolation is asked for
        capacity_keys = {key for labels in nodes for key in labels}
        spot_node, od_node = ({**gpu_node(case), **n} for n in nodes)
        for owner, meta, spec, _c in server_pods(case, r):
            pool = pool_key(meta, case)
            own_extra = {
                key: val for key, val in (spec.get("nodeSelector") or {}).items() if key not in capacity_keys
            }
            mine, other = (spot_node, od_node) if pool == "spot" else (od_node, spot_node)
            name = owner["metadata"]["name"]
            yield (
                _node_matches(spec, {**own_extra, **mine}),
                f"{name} cannot schedule on its own {pool} nodes",
            )
            yield (
                not _node_matches(spec, {**own_extra, **other}),
                f"{name} ({pool}) can land on the other pool's nodes",
            )

    assert_sweep(*sweep(check))


def test_gpu_requests_equal_limits_and_cover_the_tensor_parallel_size() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        tp = int(dig(v, "vllm.tensorParallelSize", 1))
        want = int(dig(v, "gpu.count", tp))
        for owner, _meta, _spec, c in server_pods(case, r):
            req, lim = k.gpu_count(c, gpu_resource(case))
            name = owner["metadata"]["name"]
            yield req == lim, f"{name}: GPU request {req} != limit {lim}"
            yield str(lim) == str(want), f"{name}: {lim} GPUs, values ask for {want}"
            yield int(lim or 0) >= tp, f"{name}: {lim} GPUs for tensor-parallel size {tp}"
            yield k.flag(c.get("args", []), "--tensor-parallel-size") == str(tp), f"{name}: TP flag != {tp}"

    assert_sweep(*sweep(check))


def test_grace_period_covers_prestop_plus_shutdown_timeout_and_spot_fits_its_notice() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        provider = dig(v, "capacityType.provider")
        notice = dig(v, "capacityType.spotNoticeSeconds") or SPOT_NOTICE.get(provider)
        for owner, meta, spec, c in server_pods(case, r):
            name = owner["metadata"]["name"]
            grace = int(spec.get("terminationGracePeriodSeconds", 30))
            pre = k.prestop_seconds(c)
            shutdown = int(k.flag(c.get("args", []), "--shutdown-timeout") or 0)
            yield grace >= pre + shutdown, f"{name}: grace {grace} < preStop {pre} + shutdown {shutdown}"
            d = drain(case, pool_key(meta, case) or "onDemand")
            if owner["kind"] in ("Job", "CronJob"):  # nothing routes to a batch pod; run-batch has no drain
                d = {**d, "preStopSleepSeconds": 0, "shutdownTimeoutSeconds": 0}
            yield pre == d["preStopSleepSeconds"], f"{name}: preStop {pre} != {d['preStopSleepSeconds']}"
            yield shutdown == d["shutdownTimeoutSeconds"], f"{name}: --shutdown-timeout {shutdown}"
            if pool_key(meta, case) == "spot" and notice:
                yield (
                    grace <= int(notice),
                    f"{name}: spot grace {grace}s exceeds the {notice}s reclaim notice",
                )

    assert_sweep(*sweep(check))


def _workloads(r: Rendered) -> list[tuple[dict, dict]]:
    """Workloads with a label selector of their own (a Job's is generated by the API server)."""
    return [
        (owner, meta)
        for owner, meta, _spec in k.pod_specs(r.objects)
        if owner["kind"] not in ("Pod", "Job", "CronJob")
    ]


def test_each_deployment_selector_matches_its_own_pods_and_no_other_pool() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        workloads = _workloads(r)
        for owner, _meta in workloads:
            sel = owner["spec"]["selector"]
            hits = [o["metadata"]["name"] for o, m in workloads if k.selector_matches(sel, k.labels(m))]
            yield hits == [owner["metadata"]["name"]], f"{owner['metadata']['name']} selector matches {hits}"

    assert_sweep(*sweep(check))


def test_pdbs_select_exactly_one_pool() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        workloads = _workloads(r)
        for pdb in r.of_kind("PodDisruptionBudget"):
            sel = pdb["spec"]["selector"]
            hits = [o["metadata"]["name"] for o, m in workloads if k.selector_matches(sel, k.labels(m))]
            yield len(hits) == 1, f"PDB {pdb['metadata']['name']} selects {hits}"
            spec = pdb["spec"]
            yield (
                ("minAvailable" in spec) != ("maxUnavailable" in spec),
                f"PDB {pdb['metadata']['name']}: {spec}",
            )

    assert_sweep(*sweep(check))


def _scalers(r: Rendered) -> list[tuple[dict, dict]]:
    """(scaler, its scaleTargetRef) of every ScaledObject and HPA."""
    return [
        (o, o["spec"]["scaleTargetRef"])
        for o in r.objects
        if o["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
    ]


def test_every_autoscaler_targets_one_rendered_pool_deployment_and_each_pool_has_at_most_one() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        deployments = {d["metadata"]["name"] for d in r.of_kind("Deployment")}
        targets = []
        for scaler, ref in _scalers(r):
            name = f"{scaler['kind']} {scaler['metadata']['name']}"
            yield ref.get("kind", "Deployment") == "Deployment", f"{name} targets a {ref.get('kind')}"
            yield (
                ref["name"] in deployments,
                f"{name} targets {ref['name']}, not one of {sorted(deployments)}",
            )
            targets.append(ref["name"])
        yield len(targets) == len(set(targets)), f"a Deployment has several autoscalers: {targets}"

    assert_sweep(*sweep(check))


def test_autoscaler_bounds_are_ordered_and_keep_a_warm_replica_unless_asked() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        by_deploy = {d["metadata"]["name"]: d for d in r.of_kind("Deployment")}
        for scaler, ref in _scalers(r):
            spec = scaler["spec"]
            lo = spec.get("minReplicaCount", spec.get("minReplicas", 1))
            hi = spec.get("maxReplicaCount", spec.get("maxReplicas"))
            name = f"{scaler['kind']} {scaler['metadata']['name']}"
            yield hi is not None and 0 <= lo <= hi, f"{name}: min {lo} max {hi}"
            target = by_deploy.get(ref["name"])
            pool = pool_key(target["spec"]["template"]["metadata"]) if target else None
            asked = dig(v, f"pools.{pool}.minReplicas", 1)
            yield lo == asked, f"{name}: min {lo}, values ask {asked}"

    assert_sweep(*sweep(check))


def _prometheus_triggers(r: Rendered) -> Iterator[tuple[dict, dict]]:
    for so in r.of_kind("ScaledObject"):
        for t in so["spec"].get("triggers", []):
            if t["type"] == "prometheus":
                yield so, t


def test_keda_thresholds_are_in_range_and_paired_with_the_right_metric_type() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for so, t in _prometheus_triggers(r):
            name, query = so["metadata"]["name"], t["metadata"]["query"]
            threshold = float(t["metadata"]["threshold"])
            metric_type = t.get("metricType", "AverageValue")
            if "vllm:kv_cache_usage_perc" in query:
                yield (
                    0 < threshold <= 1,
                    f"{name}: KV-cache threshold {threshold} is not a fraction in (0, 1]",
                )
                # a mean of usage is a target mean: Value; AverageValue would divide it by the replica count
                yield metric_type == "Value", f"{name}: KV-cache average with metricType {metric_type}"
            if "vllm:num_requests_waiting" in query:
                yield threshold > 0, f"{name}: queue threshold {threshold}"
                yield metric_type == "AverageValue", f"{name}: queue sum with metricType {metric_type}"
            activation = t["metadata"].get("activationThreshold")
            if activation is not None:
                yield float(activation) >= 0, f"{name}: activationThreshold {activation}"

    assert_sweep(*sweep(check))


def test_hpa_targets_vllm_metrics_never_cpu_and_the_kv_target_is_a_fraction() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for hpa in r.of_kind("HorizontalPodAutoscaler"):
            name = hpa["metadata"]["name"]
            for m in hpa["spec"].get("metrics", []):
                yield m["type"] in ("External", "Pods", "Object"), f"{name}: scales on {m['type']} metrics"
                source = m.get("external") or m.get("pods") or m.get("object") or {}
                metric, target = source.get("metric", {}).get("name", ""), source.get("target", {})
                if "kv_cache" in metric:
                    raw = str(target.get("value") or target.get("averageValue"))
                    number = float(raw[:-1]) / 1000 if raw.endswith("m") else float(raw)
                    yield 0 < number <= 1, f"{name}: KV-cache target {raw} is not a fraction"
                if m["type"] == "External":
                    # an averaged metric is a target mean (Value); a summed one is per replica (AverageValue)
                    want = "Value" if "kv_cache" in metric else "AverageValue"
                    yield target.get("type") == want, f"{name}: {metric} target type {target.get('type')}"
                    sel = (source.get("metric", {}).get("selector") or {}).get("matchLabels") or {}
                    yield sel.get("namespace") == NAMESPACE, f"{name}: {metric} selector not scoped: {sel}"
                    yield (
                        sel.get("app_kubernetes_io_instance") == RELEASE,
                        f"{name}: {metric} not pinned: {sel}",
                    )

    assert_sweep(*sweep(check))


# A vector selector of a vLLM metric (or `up`), with its matcher block when it has one.
SCOPED_SELECTOR = re.compile(r"(vllm:[a-zA-Z_:]+|\bup\b)(\{[^}]*\})?")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
# Labels Prometheus itself puts on every scraped series, and labels vLLM puts on its metrics.
SCRAPE_LABELS = {"namespace", "pod", "service", "job", "instance", "container", "endpoint"}
VLLM_LABELS = {"model_name", "engine", "le", "finished_reason"}


def _queries(r: Rendered) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every query the chart ships: KEDA triggers and PrometheusRule expressions."""
    for so, t in _prometheus_triggers(r):
        yield f"ScaledObject {so['metadata']['name']}", t["metadata"]["query"]
    for rule_obj in r.of_kind("PrometheusRule"):
        for group in rule_obj["spec"].get("groups", []):
            for rule in group.get("rules", []):
                yield f"PrometheusRule {rule.get('alert') or rule.get('record')}", str(rule["expr"])


def _matchers(block: str) -> list[tuple[str, str, str]]:
    return MATCHER.findall(block or "")


def pod_name(deployment: str) -> str:
    """A pod name as a Deployment's ReplicaSet gives it: <deployment>-<pod-template-hash>-<suffix>."""
    return f"{deployment}-7c9d5b8f4-x2k7q"


def _series_matches(
    matchers: list[tuple[str, str, str]],
    pod_labels: dict[str, str],
    pod: str = "",
    namespace: str = NAMESPACE,
) -> bool:
    """Whether the series of a pod (pod labels copied as app_kubernetes_io_*, its name as `pod`) satisfy the
    matchers."""
    for label, op, value in matchers:
        if label == "namespace":
            actual = namespace
        elif label == "pod":
            actual = pod
        elif label.startswith("app_kubernetes_io_"):
            actual = pod_labels.get("app.kubernetes.io/" + label.removeprefix("app_kubernetes_io_"), "")
        else:
            continue
        hit = re.fullmatch(value, actual) is not None if "~" in op else actual == value
        if hit != (op in ("=", "=~")):
            return False
    return True


def _fullname(case: Case) -> str:
    v = values(case)
    return dig(v, "fullnameOverride") or f"{RELEASE}-{dig(v, 'nameOverride') or 'vllm-inference'}"


def test_every_vllm_metric_in_a_query_is_scoped_to_the_release() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        if dig(values(case), "autoscaling.scopeMatchers"):
            return  # user-supplied matchers are the user's scope
        release_values = {RELEASE, _fullname(case)}
        own = {pod_name(o["metadata"]["name"]): k.labels(m) for o, m in _workloads(r)}
        # the same chart released as "other" and as "<release>-x" (a name the release's is a prefix of)
        foreign = {
            pod_name(name.replace(RELEASE, other, 1)): {**lab, "app.kubernetes.io/instance": other}
            for name, lab in ((o["metadata"]["name"], k.labels(m)) for o, m in _workloads(r))
            for other in ("other", f"{RELEASE}-x")
        }
        for where, query in _queries(r):
            for metric, block in SCOPED_SELECTOR.findall(query):
                found = _matchers(block)
                ns = ("namespace", "=", NAMESPACE) in found
                yield ns, f"{where}: {metric}{block} is not scoped to namespace {NAMESPACE}"
                by_label = any(op == "=" and val in release_values for _l, op, val in found)
                by_name = any(label == "pod" for label, _op, _v in found) and (
                    any(_series_matches(found, lab, pod) for pod, lab in own.items())
                    and not any(_series_matches(found, lab, pod) for pod, lab in foreign.items())
                )
                yield by_label or by_name, f"{where}: {metric}{block} is not pinned to release {RELEASE}"

    assert_sweep(*sweep(check))


def test_kv_cache_trigger_and_hpa_metric_average_exactly_their_own_pools_pods() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        if dig(values(case), "autoscaling.scopeMatchers") or dig(
            values(case), "autoscaling.triggers.kvCacheUsage.query"
        ):
            return
        pods = {o["metadata"]["name"]: k.labels(m) for o, m in _workloads(r)}
        for so, t in _prometheus_triggers(r):
            query = t["metadata"]["query"]
            if "vllm:kv_cache_usage_perc" not in query:
                continue
            found = [_matchers(b) for m, b in SCOPED_SELECTOR.findall(query) if m.startswith("vllm:")]
            target = so["spec"]["scaleTargetRef"]["name"]
            hits = sorted(
                name
                for name, lab in pods.items()
                if all(_series_matches(f, lab, pod_name(name)) for f in found)
            )
            yield (
                hits == [target],
                f"ScaledObject {so['metadata']['name']} KV query averages {hits}, not [{target}]",
            )
        for hpa in r.of_kind("HorizontalPodAutoscaler"):
            for m in hpa["spec"].get("metrics", []):
                metric = (m.get("external") or {}).get("metric") or {}
                if "kv_cache" not in metric.get("name", ""):
                    continue
                labels = (metric.get("selector") or {}).get("matchLabels") or {}
                found = [(key, "=", str(val)) for key, val in labels.items()]
                target = hpa["spec"]["scaleTargetRef"]["name"]
                hits = sorted(
                    name for name, lab in pods.items() if _series_matches(found, lab, pod_name(name))
                )
                yield (
                    hits == [target],
                    f"HPA {hpa['metadata']['name']} KV metric averages {hits}, not [{target}]",
                )

    assert_sweep(*sweep(check))


def test_query_matchers_only_use_labels_the_monitor_attaches() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        monitors = r.of_kind("ServiceMonitor") + r.of_kind("PodMonitor")
        if not monitors or dig(values(case), "autoscaling.scopeMatchers"):
            return
        attached = set(SCRAPE_LABELS | VLLM_LABELS)
        for mon in monitors:
            names = mon["spec"].get("podTargetLabels", []) + mon["spec"].get("targetLabels", [])
            attached |= {re.sub(r"[^a-zA-Z0-9_]", "_", n) for n in names}
        for where, query in _queries(r):
            # kube-state-metrics and KEDA series carry their own labels; only vLLM's come through the monitor
            for _metric, block in SCOPED_SELECTOR.findall(query):
                for label, _op, _val in _matchers(block):
                    yield (
                        label in attached,
                        f"{where}: matcher on {label!r}, which no monitor attaches ({sorted(attached)})",
                    )

    assert_sweep(*sweep(check))


def test_no_query_uses_a_removed_or_deprecated_vllm_metric() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for where, query in _queries(r):
            yield not any(m in query for m in REMOVED_METRICS), f"{where}: {query}"
        for cm in r.of_kind("ConfigMap"):
            text = str(cm.get("data", {}))
            yield not any(m in text for m in REMOVED_METRICS), f"ConfigMap {cm['metadata']['name']}"

    assert_sweep(*sweep(check))


def test_every_object_and_pod_template_carries_the_standard_labels() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for o in r.objects:
            lab = k.labels(o["metadata"])
            name = f"{o['kind']} {o['metadata']['name']}"
            yield (
                all(key in lab for key in STANDARD_LABELS),
                f"{name} lacks {set(STANDARD_LABELS) - set(lab)}",
            )
            yield lab.get("app.kubernetes.io/instance") == RELEASE, f"{name}: instance {lab}"
            yield lab.get("app.kubernetes.io/managed-by") == "Helm", f"{name}: managed-by {lab}"
        for owner, meta, _spec in k.pod_specs(r.objects):
            if owner["kind"] != "Pod":
                lab = k.labels(meta)
                missing = set(STANDARD_LABELS) - set(lab)
                yield not missing, f"pod template of {owner['metadata']['name']} lacks {missing}"

    assert_sweep(*sweep(check))


def _selectors(r: Rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    for o in r.objects:
        name, spec = f"{o['kind']} {o['metadata']['name']}", o.get("spec") or {}
        # A Job's selector is the API server's own (its controller-uid), never rendered.
        selecting = (k.WORKLOAD_KINDS - {"Job"}) | {"PodDisruptionBudget", "ServiceMonitor", "PodMonitor"}
        if o["kind"] in selecting:
            yield name, spec.get("selector") or {}
        if o["kind"] == "Service" and spec.get("selector"):
            yield name, {"matchLabels": spec["selector"]}
        if o["kind"] == "NetworkPolicy":
            yield name, spec.get("podSelector") or {}
    for owner, _meta, spec in k.pod_specs(r.objects):
        for c in spec.get("topologySpreadConstraints") or []:
            yield f"spread of {owner['metadata']['name']}", c.get("labelSelector") or {}


def test_selectors_never_use_version_or_chart_labels() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for where, sel in _selectors(r):
            yield not (k.selector_keys(sel) & UNSTABLE_SELECTOR_LABELS), f"{where} selects on {sel}"
            yield bool(k.selector_keys(sel)), f"{where} has an empty selector (matches every pod)"

    assert_sweep(*sweep(check))


def test_no_image_uses_latest_or_an_implicit_tag() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, image in k.images(r.objects):
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            pinned = "@sha256:" in image or (tag and tag != "latest")
            yield bool(pinned), f"{owner['kind']} {owner['metadata']['name']}: image {image}"

    assert_sweep(*sweep(check))


def test_server_pods_disable_service_links_and_mount_a_memory_dev_shm() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, _meta, spec, c in server_pods(case, r):
            name = owner["metadata"]["name"]
            yield spec.get("enableServiceLinks") is False, f"{name}: enableServiceLinks is not false"
            mount = k.mount_at(c, "/dev/shm")
            vol = k.volume(spec, mount["name"]) if mount else None
            medium = ((vol or {}).get("emptyDir") or {}).get("medium")
            yield medium == "Memory", f"{name}: /dev/shm is {vol}"

    assert_sweep(*sweep(check))


def test_all_three_probes_hit_health_on_the_server_port_with_their_own_timing() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, _meta, _spec, c in serving_pods(case, r):
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                get = (c.get(probe) or {}).get("httpGet") or {}
                port = ports.get(get.get("port"), get.get("port"))
                where = f"{owner['metadata']['name']} {probe}"
                yield get.get("path") == "/health", f"{where}: path {get.get('path')}"
                yield port == int(dig(values(case), "vllm.port", 8000)), f"{where}: port {get.get('port')}"
                timing = dig(values(case), f"probes.{probe.removesuffix('Probe')}") or {}
                got = {key: (c.get(probe) or {}).get(key) for key in timing}
                yield got == timing, f"{where}: timing {got}, values ask for {timing}"

    assert_sweep(*sweep(check))


def test_prefix_caching_flag_follows_the_three_state_value_and_is_absent_when_unset() -> None:
    expected = {None: set(), True: {"--enable-prefix-caching"}, False: {"--no-enable-prefix-caching"}}

    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        want = expected[dig(values(case), "vllm.prefixCaching")]
        extra = set(dig(values(case), "vllm.extraArgs", []) or [])
        for owner, _meta, _spec, c in server_pods(case, r):
            flags = {a for a in c.get("args", []) if "prefix-caching" in a} - extra
            yield flags == want, f"{owner['metadata']['name']}: prefix-caching flags {flags}, want {want}"

    assert_sweep(*sweep(check))


def test_server_runs_the_image_entrypoint_with_model_first_and_named_flags() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        for owner, _meta, _spec, c in serving_pods(case, r):
            name, args = owner["metadata"]["name"], c.get("args", [])
            yield not c.get("command") or bool(v.get("command")), f"{name}: command {c.get('command')}"
            yield bool(args) and args[0] == dig(v, "model.name"), f"{name}: first arg {args[:1]}"
            served = list(dig(v, "model.servedModelName", []) or [])
            yield k.flag_values(args, "--served-model-name") == served, f"{name}: served names vs {served}"
            yield k.flag(args, "--port") in (None, str(dig(v, "vllm.port"))), f"{name}: --port"
            for field, flag_name in VALUE_FLAGS:
                want = dig(v, field)
                want = (
                    None if want in (None, "") or (field == "model.dtype" and want == "auto") else str(want)
                )
                got = k.flag(args, flag_name)
                yield got == want, f"{name}: {flag_name} {got} != {want}"
            yield (
                ("--trust-remote-code" in args) == bool(dig(v, "model.trustRemoteCode")),
                f"{name}: --trust-remote-code vs model.trustRemoteCode",
            )
            lora = dig(v, "vllm.lora") or {}
            yield (
                ("--enable-lora" in args) == bool(lora.get("enabled")),
                f"{name}: --enable-lora vs lora.enabled",
            )
            if lora.get("enabled"):
                for field, flag_name in (("maxLoras", "--max-loras"), ("maxLoraRank", "--max-lora-rank")):
                    want = lora.get(field)
                    got = k.flag(args, flag_name)
                    yield got == (None if want is None else str(want)), f"{name}: {flag_name} {got} != {want}"
                modules = [f"{a['name']}={a['path']}" for a in lora.get("adapters") or []]
                yield k.flag_values(args, "--lora-modules") == modules, f"{name}: --lora-modules vs {modules}"

    assert_sweep(*sweep(check))


# value -> the flag it becomes (the chart's args table, written out independently of it).
VALUE_FLAGS = (
    ("model.maxModelLen", "--max-model-len"),
    ("model.revision", "--revision"),
    ("model.dtype", "--dtype"),
    ("model.quantization", "--quantization"),
    ("vllm.maxNumSeqs", "--max-num-seqs"),
    ("vllm.gpuMemoryUtilization", "--gpu-memory-utilization"),
    ("vllm.blockSize", "--block-size"),
)


def test_secrets_reach_the_server_by_reference_and_every_reference_resolves() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        rendered = {s["metadata"]["name"] for s in r.of_kind("Secret")}
        existing = {dig(v, "auth.existingSecret"), dig(v, "huggingface.existingSecret")} - {None, ""}
        for owner, _meta, _spec, c in server_pods(case, r):
            env = {e["name"]: e for e in c.get("env", [])}
            name = owner["metadata"]["name"]
            for var in ("VLLM_API_KEY", "HF_TOKEN"):
                if var in env:
                    ref = (env[var].get("valueFrom") or {}).get("secretKeyRef") or {}
                    yield "value" not in env[var], f"{name}: {var} given as a literal"
                    yield ref.get("name") in rendered | existing, f"{name}: {var} from missing Secret {ref}"
            yield (
                ("VLLM_API_KEY" in env) == bool(dig(v, "auth.enabled")),
                f"{name}: VLLM_API_KEY vs auth.enabled",
            )

    assert_sweep(*sweep(check))


def test_every_mount_has_a_volume_and_every_claim_is_rendered_or_named_by_the_user() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        claims = {p["metadata"]["name"] for p in r.of_kind("PersistentVolumeClaim")}
        claims.add(dig(values(case), "modelCache.existingClaim.name"))
        claims.add(dig(values(case), "batch.data.existingClaim"))
        for owner, _meta, spec in k.pod_specs(r.objects):
            name = owner["metadata"]["name"]
            for c in spec.get("containers", []):
                for m in c.get("volumeMounts") or []:
                    yield k.volume(spec, m["name"]) is not None, f"{name}: mount {m['name']} has no volume"
            for vol in spec.get("volumes") or []:
                if "persistentVolumeClaim" in vol:
                    claim = vol["persistentVolumeClaim"]["claimName"]
                    yield claim in claims, f"{name}: claim {claim} neither rendered nor the existing claim"

    assert_sweep(*sweep(check))


def test_read_only_root_leaves_home_cache_and_tmp_writable() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, _meta, _spec, c in server_pods(case, r):
            if not (c.get("securityContext") or {}).get("readOnlyRootFilesystem"):
                continue
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            mounts = [m for m in c.get("volumeMounts") or [] if not m.get("readOnly")]
            for path in ("/tmp", env.get("HOME"), env.get("HF_HOME")):
                if path is None:
                    continue
                covered = any(
                    path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")
                    for m in mounts
                )
                ro_cache = path == env.get("HF_HOME") and dig(
                    values(case), "modelCache.existingClaim.readOnly"
                )
                yield (
                    covered or bool(ro_cache),
                    f"{owner['metadata']['name']}: {path} is on the read-only root",
                )

    assert_sweep(*sweep(check))


def _service_port_names(svc: dict[str, Any]) -> set[Any]:
    return {p.get("name") for p in svc["spec"]["ports"]} | {p["port"] for p in svc["spec"]["ports"]}


def test_service_selects_every_pool_and_monitors_and_routes_point_at_real_ports() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        services = {s["metadata"]["name"]: s for s in r.of_kind("Service")}
        pods = [(owner, meta, spec, c) for owner, meta, spec, c in server_pods(case, r)]
        serving = [s for s in services.values() if s["spec"].get("selector")]
        for svc in serving:
            for owner, meta, _spec, _c in pods:
                hit = k.selector_matches({"matchLabels": svc["spec"]["selector"]}, k.labels(meta))
                yield hit, f"Service {svc['metadata']['name']} misses {owner['metadata']['name']}"
        for sm in r.of_kind("ServiceMonitor"):
            hits = [
                s
                for s in services.values()
                if k.selector_matches(sm["spec"]["selector"], k.labels(s["metadata"]))
            ]
            yield bool(hits), f"ServiceMonitor {sm['metadata']['name']} selects no Service"
            for ep in sm["spec"]["endpoints"]:
                yield all(ep.get("port") in _service_port_names(s) for s in hits), f"ServiceMonitor port {ep}"
        for pm in r.of_kind("PodMonitor"):
            hits = [(o, c) for o, m, _s, c in pods if k.selector_matches(pm["spec"]["selector"], k.labels(m))]
            yield (
                len(hits) == len(pods),
                f"PodMonitor {pm['metadata']['name']} selects {len(hits)}/{len(pods)}",
            )
            for ep in pm["spec"]["podMetricsEndpoints"]:
                names = [{p.get("name") for p in c.get("ports", [])} for _o, c in hits]
                yield all(ep.get("port") in n for n in names), f"PodMonitor port {ep.get('port')}"
        for ing in r.of_kind("Ingress"):
            for rule in ing["spec"].get("rules", []):
                for path in rule["http"]["paths"]:
                    backend = path["backend"]["service"]
                    svc = services.get(backend["name"])
                    port = backend["port"].get("name", backend["port"].get("number"))
                    yield svc is not None and port in _service_port_names(svc), f"Ingress backend {backend}"
        for route in r.of_kind("HTTPRoute"):
            for rule in route["spec"].get("rules", []):
                for ref in rule.get("backendRefs", []):
                    svc = services.get(ref["name"])
                    yield (
                        svc is not None and ref.get("port") in _service_port_names(svc),
                        f"HTTPRoute backend {ref}",
                    )

    assert_sweep(*sweep(check))


def test_network_policy_covers_the_server_pods_and_admits_the_api_port() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        pods = list(server_pods(case, r))
        for np in r.of_kind("NetworkPolicy"):
            spec = np["spec"]
            hits = [o for o, m, _s, _c in pods if k.selector_matches(spec["podSelector"], k.labels(m))]
            yield (
                len(hits) == len(pods),
                f"NetworkPolicy {np['metadata']['name']} covers {len(hits)}/{len(pods)}",
            )
            yield "Ingress" in spec.get("policyTypes", ["Ingress"]), "NetworkPolicy does not govern ingress"
            port = int(dig(values(case), "vllm.port", 8000))
            allowed = {p.get("port") for rule in spec.get("ingress", []) for p in rule.get("ports") or []}
            yield bool(allowed & {port, "http"}), f"NetworkPolicy admits ports {allowed}, not {port}"

    assert_sweep(*sweep(check))


def test_topology_spread_counts_the_pools_own_pods() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, meta, spec in k.pod_specs(r.objects):
            for c in spec.get("topologySpreadConstraints") or []:
                hit = k.selector_matches(c.get("labelSelector"), k.labels(meta))
                yield (
                    hit,
                    f"{owner['metadata']['name']}: spread over {c.get('topologyKey')} ignores its own pods",
                )

    assert_sweep(*sweep(check))


def test_service_target_ports_exist_on_every_selected_server_container() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        pods = list(server_pods(case, r))
        for svc in r.of_kind("Service"):
            selector = svc["spec"].get("selector")
            if not selector:
                continue
            for owner, meta, _spec, c in pods:
                if not k.selector_matches({"matchLabels": selector}, k.labels(meta)):
                    continue
                ports = {p.get("name") for p in c.get("ports", [])} | {
                    p["containerPort"] for p in c.get("ports", [])
                }
                for port in svc["spec"]["ports"]:
                    target = port.get("targetPort", port["port"])
                    yield (
                        target in ports,
                        f"Service {svc['metadata']['name']} targets {target} on {owner['metadata']['name']}",
                    )

    assert_sweep(*sweep(check))


def _quantity_bytes(q: Any) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    text = str(q)
    for suffix, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _pool_minimum(r: Rendered, deployment: dict[str, Any]) -> int:
    """The fewest replicas the pool runs: the autoscaler's minimum, else the Deployment's replicas."""
    for scaler, ref in _scalers(r):
        if ref["name"] == deployment["metadata"]["name"]:
            spec = scaler["spec"]
            return int(spec.get("minReplicaCount", spec.get("minReplicas", 1)))
    return int(deployment["spec"].get("replicas", 1))


def _allowed_disruptions(spec: dict[str, Any], replicas: int) -> int:
    """Evictions a PDB allows at `replicas` healthy pods (percentages round up, as the controller does)."""

    def count(value: Any) -> int:
        text = str(value)
        return -(-replicas * int(text[:-1]) // 100) if text.endswith("%") else int(text)

    if "maxUnavailable" in spec:
        return count(spec["maxUnavailable"])
    return replicas - count(spec["minAvailable"])


def test_pdbs_let_at_least_one_pod_be_evicted_unless_blocking_is_allowed() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        workloads = _workloads(r)
        for pdb in r.of_kind("PodDisruptionBudget"):
            targets = [o for o, m in workloads if k.selector_matches(pdb["spec"]["selector"], k.labels(m))]
            for d in targets:
                pool = pool_key(d["spec"]["template"]["metadata"])
                if dig(v, f"pools.{pool}.pdb.allowBlockingBudget"):
                    continue
                replicas = max(1, _pool_minimum(r, d))  # a pool at zero has nothing to evict
                allowed = _allowed_disruptions(pdb["spec"], replicas)
                yield (
                    allowed >= 1,
                    f"PDB {pdb['metadata']['name']} allows {allowed} evictions at {replicas} pods",
                )

    assert_sweep(*sweep(check))


def test_keda_fallback_replicas_sit_within_the_scaled_object_bounds() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for so in r.of_kind("ScaledObject"):
            spec = so["spec"]
            if "fallback" not in spec:
                continue
            lo, hi, fb = spec.get("minReplicaCount", 0), spec["maxReplicaCount"], spec["fallback"]["replicas"]
            yield lo <= fb <= hi, f"ScaledObject {so['metadata']['name']}: fallback {fb} outside {lo}..{hi}"

    assert_sweep(*sweep(check))


def test_memory_backed_volumes_fit_in_the_container_memory_limit() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, _meta, spec, c in server_pods(case, r):
            limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
            in_memory = [
                vol["emptyDir"].get("sizeLimit")
                for vol in spec.get("volumes") or []
                if (vol.get("emptyDir") or {}).get("medium") == "Memory"
            ]
            name = owner["metadata"]["name"]
            yield all(s is not None for s in in_memory), f"{name}: a memory emptyDir without sizeLimit"
            if limit is not None:
                total = sum(_quantity_bytes(s) for s in in_memory if s is not None)
                yield total < _quantity_bytes(limit), f"{name}: memory volumes {in_memory} >= limit {limit}"

    assert_sweep(*sweep(check))


def test_objects_are_unique_by_kind_and_name_and_live_in_the_release_namespace() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        keys = [(o["kind"], o["metadata"]["name"]) for o in r.objects]
        yield (
            len(keys) == len(set(keys)),
            f"duplicate objects: {sorted(x for x in keys if keys.count(x) > 1)}",
        )
        for o in r.objects:
            ns = o["metadata"].get("namespace")
            yield ns == NAMESPACE, f"{o['kind']} {o['metadata']['name']} in namespace {ns!r}"

    assert_sweep(*sweep(check))


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        scaled = {ref["name"] for _s, ref in _scalers(r)}
        for d in r.of_kind("Deployment"):
            if d["metadata"]["name"] in scaled:
                # a rendered replicas count would reset the autoscaler's choice on every helm upgrade
                yield (
                    "replicas" not in d["spec"],
                    f"{d['metadata']['name']} sets replicas under an autoscaler",
                )

    assert_sweep(*sweep(check))


def test_pods_run_as_the_rendered_or_named_service_account() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        accounts = {sa["metadata"]["name"] for sa in r.of_kind("ServiceAccount")}
        named = dig(values(case), "serviceAccount.name")
        for owner, _meta, spec, _c in server_pods(case, r):
            sa = spec.get("serviceAccountName", "default")
            ok = sa in accounts or (
                not dig(values(case), "serviceAccount.create") and sa == (named or "default")
            )
            yield ok, f"{owner['metadata']['name']} runs as {sa!r}, rendered: {sorted(accounts)}"

    assert_sweep(*sweep(check))


def test_every_alert_carries_a_severity_and_a_summary() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for rule_obj in r.of_kind("PrometheusRule"):
            for group in rule_obj["spec"]["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        yield (
                            "severity" in (rule.get("labels") or {}),
                            f"alert {rule['alert']} has no severity",
                        )
                        yield (
                            "summary" in (rule.get("annotations") or {}),
                            f"alert {rule['alert']} has no summary",
                        )

    assert_sweep(*sweep(check))


def test_every_dashboard_is_valid_json() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for cm in r.of_kind("ConfigMap"):
            for key, text in (cm.get("data") or {}).items():
                if key.endswith(".json"):
                    try:
                        dashboard = json.loads(text)
                    except ValueError:
                        dashboard = None
                    ok = isinstance(dashboard, dict) and bool(dashboard.get("panels"))
                    yield ok, f"ConfigMap {cm['metadata']['name']}: {key} is not a dashboard with panels"

    assert_sweep(*sweep(check))


# ---- Hardening (issue 15): what a production GPU cluster needs beyond a render that validates. ----

# Paths of vLLM that answer without the API key (the list): never published.
UNPROTECTED = (
    "/metrics",
    "/invocations",
    "/pooling",
    "/score",
    "/rerank",
    "/tokenize",
    "/pause",
    "/update_weights",
)
# What the real image's server writes at start (vLLM, torch, triton, flashinfer, Hugging Face).
CACHE_VARIABLES = (
    "HOME",
    "TMPDIR",
    "XDG_CACHE_HOME",
    "VLLM_CACHE_ROOT",
    "TRITON_CACHE_DIR",
    "TORCHINDUCTOR_CACHE_DIR",
    "FLASHINFER_WORKSPACE_BASE",
)


def test_every_pod_passes_the_restricted_pod_security_standard() -> None:
    from chart_harness.pss import violations

    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, _meta, spec in k.pod_specs(r.objects):
            broken = violations(spec)
            yield not broken, f"{owner['kind']} {owner['metadata']['name']} violates restricted: {broken}"

    assert_sweep(*sweep(check))


def _writable(container: dict[str, Any], path: str) -> bool:
    return any(
        path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")
        for m in container.get("volumeMounts") or []
        if not m.get("readOnly")
    )


def test_server_names_its_user_and_writes_every_cache_on_a_writable_volume() -> None:
    """vllm/vllm-openai has no passwd entry for the pod's uid: without USER/LOGNAME torch's getpass.getuser()
    raises KeyError at import; with a read-only root every cache must point into a writable mount."""

    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, _meta, _spec, c in server_pods(case, r):
            name = owner["metadata"]["name"]
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            for var in ("USER", "LOGNAME"):
                yield bool(env.get(var)), f"{name}: {var} is not set"
            for var in CACHE_VARIABLES:
                path = env.get(var)
                yield bool(path) and _writable(c, path), f"{name}: {var}={path!r} is not on a writable mount"

    assert_sweep(*sweep(check))


def test_ephemeral_storage_request_and_limit_cover_the_disk_backed_empty_dirs() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for owner, _meta, spec, c in server_pods(case, r):
            disk = sum(
                _quantity_bytes(vol["emptyDir"].get("sizeLimit") or 0)
                for vol in spec.get("volumes") or []
                if "emptyDir" in vol and vol["emptyDir"].get("medium") != "Memory"
            )
            res = c.get("resources") or {}
            for side in ("requests", "limits"):
                got = (res.get(side) or {}).get("ephemeral-storage")
                yield (
                    got is not None and _quantity_bytes(got) > disk,
                    f"{owner['metadata']['name']}: {side}.ephemeral-storage {got} for {disk / 2**30:.1f} GiB "
                    "of emptyDirs",
                )

    assert_sweep(*sweep(check))


def test_no_pod_annotation_is_derived_from_the_api_key() -> None:
    import hashlib

    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        key = dig(values(case), "auth.apiKey")
        if not key:
            return
        digest = hashlib.sha256(str(key).encode()).hexdigest()
        for owner, meta, _spec in k.pod_specs(r.objects):
            for name, value in (meta.get("annotations") or {}).items():
                leak = str(key) in str(value) or any(digest[:n] in str(value) for n in (8, 16, 32, 64))
                yield not leak, f"{owner['metadata']['name']}: annotation {name} is derived from auth.apiKey"

    assert_sweep(*sweep(check))


def test_ingress_and_http_route_publish_no_path_outside_the_api_key() -> None:
    def covers(path: str, kind: str, closed: str) -> bool:
        if kind in ("Exact",):
            return path.rstrip("/") == closed or path.startswith(closed + "/")
        base = path.rstrip("/")
        return base == "" or closed == base or closed.startswith(base + "/") or base.startswith(closed + "/")

    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        published = [
            (p["path"], p["pathType"], f"Ingress {ing['metadata']['name']}")
            for ing in r.of_kind("Ingress")
            for rule in ing["spec"]["rules"]
            for p in rule["http"]["paths"]
        ] + [
            (m["path"]["value"], m["path"]["type"], f"HTTPRoute {route['metadata']['name']}")
            for route in r.of_kind("HTTPRoute")
            for rule in route["spec"]["rules"]
            for m in rule.get("matches") or [{"path": {"value": "/", "type": "PathPrefix"}}]
        ]
        for path, kind, where in published:
            for closed in UNPROTECTED:
                yield (
                    not covers(path, kind, closed),
                    f"{where} publishes {path} ({kind}), which reaches {closed}",
                )

    assert_sweep(*sweep(check))


def test_network_policy_admits_the_scrapers_pods_not_their_whole_namespace() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        wanted = dig(values(case), "networkPolicy.monitoring.podSelector")
        scrapers = dig(values(case), "networkPolicy.monitoring.namespaceSelector")
        for np in r.of_kind("NetworkPolicy"):
            peers = [peer for rule in np["spec"].get("ingress", []) for peer in rule.get("from") or []]
            monitoring = [
                p for p in peers if (p.get("namespaceSelector") or {}).get("matchLabels") == scrapers
            ]
            yield bool(monitoring), f"NetworkPolicy {np['metadata']['name']} admits no scraper namespace"
            for peer in monitoring:
                pods = (peer.get("podSelector") or {}).get("matchLabels")
                yield (
                    pods == (wanted or None),
                    f"NetworkPolicy {np['metadata']['name']}: scraper peer {peer}, wanted pods {wanted}",
                )

    assert_sweep(*sweep(check))


def test_every_keda_trigger_reads_an_absent_series_as_an_error() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        for so, t in _prometheus_triggers(r):
            ignore = t["metadata"].get("ignoreNullValues")
            yield (
                ignore == "false",
                f"ScaledObject {so['metadata']['name']} {t['name']}: ignoreNullValues {ignore!r}",
            )

    assert_sweep(*sweep(check))


def test_a_pool_that_scales_to_zero_has_a_trigger_that_exists_at_zero() -> None:
    """At zero no vLLM pod runs, so no vllm: series: some trigger must read a series from outside the pool
    (the gateway's wake metric), or the release-wide queue while another pool keeps a warm replica."""

    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        objects = r.of_kind("ScaledObject")
        for so in objects:
            if so["spec"].get("minReplicaCount", 0) != 0:
                continue
            name = so["metadata"]["name"]
            warm = [o for o in objects if o is not so and o["spec"].get("minReplicaCount", 0) >= 1]
            found = []
            for t in so["spec"]["triggers"]:
                query = t["metadata"]["query"]
                outside = "vllm:" not in query
                # the chart's queue trigger reads the whole release: a warm pool's pods feed it
                release_wide = "vllm:num_requests_waiting" in query and bool(warm)
                if outside or release_wide:
                    found.append(t["name"])
                    yield (
                        "activationThreshold" in t["metadata"],
                        f"{name} {t['name']}: no activationThreshold",
                    )
            yield bool(found), f"ScaledObject {name} scales to zero with no trigger that exists at zero"

    assert_sweep(*sweep(check))


def test_gpu_pods_require_the_catalogue_label_of_their_gpu_type() -> None:
    auto = {"gke": "gke", "karpenter": "karpenter", "aks": "aks"}

    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        source = dig(v, "gpu.nodeLabel", "auto")
        source = auto.get(dig(v, "capacityType.provider"), "none") if source == "auto" else source
        gpu = dig(v, "gpu.type")
        if not gpu or source == "none":
            return
        want = {
            "key": GPU_LABEL_KEYS[source],
            "operator": "In",
            "values": list(gpu_node_labels()[gpu][source]),
        }
        for owner, _meta, spec, _c in server_pods(case, r):
            required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            ) or {}
            terms = required.get("nodeSelectorTerms") or []
            ok = bool(terms) and all(want in (t.get("matchExpressions") or []) for t in terms)
            yield ok, f"{owner['metadata']['name']}: required terms {terms} lack {want}"

    assert_sweep(*sweep(check))


def test_rollouts_outlast_the_startup_budget_and_never_surge_without_spare_gpus() -> None:
    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        for d in r.of_kind("Deployment"):
            name, spec = d["metadata"]["name"], d["spec"]
            c = spec["template"]["spec"]["containers"][0]
            probe = c["startupProbe"]
            budget = probe.get("initialDelaySeconds", 0) + probe["periodSeconds"] * probe["failureThreshold"]
            deadline = spec.get("progressDeadlineSeconds", 600)
            yield deadline >= budget, f"{name}: progressDeadlineSeconds {deadline} < startup budget {budget}"
            surge = str((spec.get("strategy", {}).get("rollingUpdate") or {}).get("maxSurge", "25%"))
            yield (
                surge in ("0", "0%") or bool(dig(v, "rollout.spareGpuCapacity")),
                f"{name}: maxSurge {surge} without rollout.spareGpuCapacity",
            )

    assert_sweep(*sweep(check))


def test_spot_budgets_never_hold_a_reclaim_where_reclaims_drain_through_pdbs() -> None:
    """On AWS (Karpenter, Node Termination Handler) a reclaim evicts through the Eviction API: a budget that
    does not let every spot pod go at once holds the next eviction past the 2-minute notice."""

    def check(case: Case, r: Rendered) -> Iterator[Finding]:
        v = values(case)
        honours = dig(v, "capacityType.spotDrainHonoursPdb")
        if honours is None:
            honours = dig(v, "capacityType.provider") not in ("gke", "aks")
        if not honours or dig(v, "pools.spot.pdb.allowBlockingBudget"):
            return
        workloads = _workloads(r)
        for pdb in r.of_kind("PodDisruptionBudget"):
            for d, _m in workloads:
                if pool_key(d["spec"]["template"]["metadata"]) != "spot":
                    continue
                if not k.selector_matches(
                    pdb["spec"]["selector"], k.labels(d["spec"]["template"]["metadata"])
                ):
                    continue
                most = next(
                    (s["spec"].get("maxReplicaCount", s["spec"].get("maxReplicas")) for s, ref in _scalers(r)
                     if ref["name"] == d["metadata"]["name"]),
                    d["spec"].get("replicas", 1),
                )  # fmt: skip
                allowed = _allowed_disruptions(pdb["spec"], int(most))
                yield (
                    allowed >= int(most),
                    f"PDB {pdb['metadata']['name']} allows {allowed} of {most} spot pods",
                )

    assert_sweep(*sweep(check))

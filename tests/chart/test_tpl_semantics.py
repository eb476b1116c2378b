"""Chart semantics the invariant sweeps do not pin: how scaling splits across pools, drain defaults per pool,
provider-specific scheduling, image selection, and what the helm tests and the Service select."""

from __future__ import annotations

from typing import Any

from chart_harness.render import RELEASE, Rendered, render_chart

FULL = f"{RELEASE}-vllm-inference"
SPOT = {"pools": {"spot": {"enabled": True}}, "capacityType": {"provider": "karpenter"}}
BOTH_KEDA = {**SPOT, "autoscaling": {"mode": "keda", "maxReplicas": 10}}


def _container(r: Rendered, pool: str) -> dict[str, Any]:
    return r.get("Deployment", f"{FULL}-{pool}")["spec"]["template"]["spec"]["containers"][0]


def _pod(r: Rendered, pool: str) -> dict[str, Any]:
    return r.get("Deployment", f"{FULL}-{pool}")["spec"]["template"]["spec"]


def _trigger(r: Rendered, pool: str, name: str) -> dict[str, Any]:
    triggers = r.get("ScaledObject", f"{FULL}-{pool}")["spec"]["triggers"]
    return next(t for t in triggers if t["name"] == name)


def test_spot_share_splits_max_replicas_and_the_queued_demand_70_30() -> None:
    no_headroom = {**BOTH_KEDA, "autoscaling": {**BOTH_KEDA["autoscaling"], "onDemandHeadroom": 0}}
    r = render_chart(no_headroom)
    spot, on_demand = r.get("ScaledObject", f"{FULL}-spot"), r.get("ScaledObject", f"{FULL}-on-demand")
    assert (spot["spec"]["maxReplicaCount"], on_demand["spec"]["maxReplicaCount"]) == (7, 3)
    assert _trigger(r, "spot", "requests-waiting")["metadata"]["query"].startswith("(0.7 * sum(")
    assert _trigger(r, "on-demand", "requests-waiting")["metadata"]["query"].startswith("(0.3 * sum(")


def test_on_demand_headroom_lets_the_on_demand_pool_take_over_the_spot_share() -> None:
    """With the default headroom of 1 the on-demand maximum is its share (3) plus the spot maximum (7): losing
    every spot node leaves room for all 10 replicas; half the headroom adds ceil(3.5) = 4."""
    for headroom, od_max in ((1, 10), (0.5, 7)):
        values = {**BOTH_KEDA, "autoscaling": {**BOTH_KEDA["autoscaling"], "onDemandHeadroom": headroom}}
        r = render_chart(values)
        assert r.get("ScaledObject", f"{FULL}-on-demand")["spec"]["maxReplicaCount"] == od_max
        assert r.get("ScaledObject", f"{FULL}-spot")["spec"]["maxReplicaCount"] == 7


def test_a_pool_alone_carries_all_demand_and_all_replicas() -> None:
    r = render_chart({"autoscaling": {"mode": "keda", "maxReplicas": 6}})
    so = r.get("ScaledObject", f"{FULL}-on-demand")
    assert so["spec"]["maxReplicaCount"] == 6
    assert _trigger(r, "on-demand", "requests-waiting")["metadata"]["query"].startswith("(sum(")


def test_kv_trigger_uses_value_and_waiting_trigger_average_value() -> None:
    r = render_chart(BOTH_KEDA)
    kv, waiting = _trigger(r, "spot", "kv-cache-usage"), _trigger(r, "spot", "requests-waiting")
    assert (kv["metricType"], kv["metadata"]["threshold"]) == ("Value", "0.7")
    assert kv["metadata"]["query"].startswith("(avg(vllm:kv_cache_usage_perc{")
    assert 'app_kubernetes_io_component="pool-spot"' in kv["metadata"]["query"]
    assert waiting["metricType"] == "AverageValue"
    assert "app_kubernetes_io_component" not in waiting["metadata"]["query"]


def test_fallback_replicas_stay_within_each_pools_range() -> None:
    no_headroom = {**BOTH_KEDA, "autoscaling": {**BOTH_KEDA["autoscaling"], "onDemandHeadroom": 0}}
    r = render_chart({**no_headroom, "keda": {"fallback": {"replicas": 5}}})
    assert r.get("ScaledObject", f"{FULL}-on-demand")["spec"]["fallback"]["replicas"] == 3
    assert r.get("ScaledObject", f"{FULL}-spot")["spec"]["fallback"]["replicas"] == 5


def test_hpa_divides_the_per_replica_queue_target_by_the_pool_share() -> None:
    r = render_chart({**BOTH_KEDA, "autoscaling": {"mode": "hpa", "maxReplicas": 10}})
    metrics = r.get("HorizontalPodAutoscaler", f"{FULL}-spot")["spec"]["metrics"]
    waiting = next(m for m in metrics if m["external"]["metric"]["name"] == "vllm_num_requests_waiting")
    assert waiting["external"]["target"]["averageValue"] == "5714m"  # 4 per replica / 0.7


def test_drain_grace_is_derived_per_pool_and_the_spot_pool_drains_faster() -> None:
    r = render_chart(SPOT)
    for pool, (pre, shutdown, grace) in {"on-demand": (15, 30, 55), "spot": (3, 10, 15)}.items():
        c = _container(r, pool)
        assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == pre
        assert c["args"][c["args"].index("--shutdown-timeout") + 1] == str(shutdown)
        assert _pod(r, pool)["terminationGracePeriodSeconds"] == grace


def test_explicit_grace_period_is_kept_and_zero_prestop_renders_no_hook() -> None:
    values = {
        "drain": {"preStopSleepSeconds": 0},
        "pools": {"onDemand": {"terminationGracePeriodSeconds": 90}},
    }
    r = render_chart(values)
    assert _pod(r, "on-demand")["terminationGracePeriodSeconds"] == 90
    assert "lifecycle" not in _container(r, "on-demand")


def test_aks_spot_pool_tolerates_the_spot_taint_and_on_demand_avoids_spot_nodes() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["a100"]}]}
                ]
            }
        }
    }
    values = {
        "capacityType": {"provider": "aks"},
        "pools": {"spot": {"enabled": True}, "onDemand": {"affinity": affinity}},
    }
    r = render_chart(values)
    spot = _pod(r, "spot")
    assert spot["nodeSelector"] == {"kubernetes.azure.com/scalesetpriority": "spot"}
    assert {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    } in spot["tolerations"]
    terms = _pod(r, "on-demand")["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expressions = terms["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": "gpu", "operator": "In", "values": ["a100"]} in expressions
    assert {"key": "kubernetes.azure.com/scalesetpriority", "operator": "DoesNotExist"} in expressions


def test_image_tag_defaults_to_app_version_and_a_digest_wins() -> None:
    digest = "sha256:" + "ab" * 32
    assert _container(render_chart(), "on-demand")["image"] == "docker.io/vllm/vllm-openai:v0.33.0"
    pinned = render_chart({"image": {"tag": "v0.32.1", "digest": digest}})
    assert _container(pinned, "on-demand")["image"] == f"docker.io/vllm/vllm-openai@{digest}"


def test_read_write_once_cache_is_accepted_for_a_single_pod() -> None:
    r = render_chart({"modelCache": {"mode": "pvc", "pvc": {"accessMode": "ReadWriteOnce"}}})
    assert r.get("PersistentVolumeClaim", f"{FULL}-model-cache")["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_helm_test_pods_are_not_behind_the_service_and_send_the_api_key() -> None:
    r = render_chart({"auth": {"enabled": True, "apiKey": "k"}})
    selector = r.get("Service", FULL)["spec"]["selector"]
    tests = [p for p in r.of_kind("Pod") if p["metadata"]["annotations"]["helm.sh/hook"] == "test"]
    assert {p["metadata"]["name"].rsplit("-test-", 1)[1] for p in tests} == {
        "models",
        "completion",
        "chat-stream",
    }
    for pod in tests:
        labels = pod["metadata"]["labels"]
        assert not all(labels.get(k) == v for k, v in selector.items())
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == f"{FULL}-api-key"


def test_embedding_models_get_an_embeddings_test_instead_of_completions() -> None:
    r = render_chart({"tests": {"kind": "embed"}})
    names = {p["metadata"]["name"] for p in r.of_kind("Pod")}
    assert names == {f"{FULL}-test-models", f"{FULL}-test-embeddings"}


def test_a_scoped_custom_query_is_rendered_verbatim_for_every_pool() -> None:
    query = 'max(vllm:kv_cache_usage_perc{namespace="inference",model_name="m"})'
    r = render_chart(
        {**BOTH_KEDA, "autoscaling": {"mode": "keda", "triggers": {"kvCacheUsage": {"query": query}}}}
    )
    for pool in ("on-demand", "spot"):
        assert _trigger(r, pool, "kv-cache-usage")["metadata"]["query"] == query


def test_a_63_character_name_still_gives_every_object_a_distinct_name_within_63() -> None:
    values = {
        **BOTH_KEDA,
        "fullnameOverride": "a" * 63,
        "auth": {"enabled": True, "apiKey": "k"},
        "huggingface": {"token": "t"},
        "modelCache": {"mode": "pvc"},
        "monitoring": {"grafanaDashboard": {"enabled": True}},
    }
    names = [(o["kind"], o["metadata"]["name"]) for o in render_chart(values).objects]
    assert len(names) == len(set(names))
    assert max(len(name) for _, name in names) <= 63
    assert {n for k, n in names if k == "Deployment"} == {"a" * 53 + "-on-demand", "a" * 58 + "-spot"}


def _max_num_seqs_alert(r: Rendered) -> str:
    rules = r.get("PrometheusRule", FULL)["spec"]["groups"][0]["rules"]
    return next(rule["expr"] for rule in rules if rule["alert"] == "VLLMRunningAtMaxNumSeqs")


def test_the_batch_alert_uses_vllms_default_max_num_seqs_for_the_gpu_type_from_the_catalogue() -> None:
    """vLLM runs 1024 sequences by default on >= 70 GiB cards other than A100s, 256 elsewhere (and when the
    GPU is not declared); an explicit vllm.maxNumSeqs wins."""
    alert = {"monitoring": {"prometheusRule": {"enabled": True}}}
    for gpu, seqs in {"H100-80GB": 1024, "H200": 1024, "A100-80GB": 256, "L4": 256, "": 256}.items():
        expr = _max_num_seqs_alert(render_chart({**alert, "gpu": {"type": gpu}}))
        assert expr.endswith(f">= {seqs}"), (gpu, expr)
    pinned = render_chart({**alert, "gpu": {"type": "H200"}, "vllm": {"maxNumSeqs": 48}})
    assert _max_num_seqs_alert(pinned).endswith(">= 48")


def test_whole_number_flags_render_as_integers_and_fractions_as_written() -> None:
    values = {"model": {"maxModelLen": 1048576}, "vllm": {"gpuMemoryUtilization": 0.85, "blockSize": 32}}
    args = _container(render_chart(values), "on-demand")["args"]
    for flag, want in {
        "--max-model-len": "1048576",
        "--gpu-memory-utilization": "0.85",
        "--block-size": "32",
    }.items():
        assert args[args.index(flag) + 1] == want, (flag, args)


def test_unset_values_render_no_flag_and_lora_flags_only_with_lora_enabled() -> None:
    args = _container(render_chart({"vllm": {"lora": {"maxLoras": 4, "maxLoraRank": 16}}}), "on-demand")[
        "args"
    ]
    assert args == [
        "Qwen/Qwen2.5-0.5B-Instruct",
        "--port",
        "8000",
        "--tensor-parallel-size",
        "1",
        "--shutdown-timeout",
        "30",
    ]
    enabled = _container(render_chart({"vllm": {"lora": {"enabled": True, "maxLoras": 4}}}), "on-demand")[
        "args"
    ]
    assert enabled[enabled.index("--enable-lora") :][:3] == ["--enable-lora", "--max-loras", "4"]
    assert "--max-lora-rank" not in enabled

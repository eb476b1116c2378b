"""GPU pools are isolated and GPU capacity is accounted, on any cluster with the local cluster's node pools
(the gpu=true:NoSchedule taint, karpenter.sh/capacity-type labels, nvidia.com/gpu capacity)."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from .kube import GPU, SIM_IMAGE, pod_manifest, running_node, wait_until

REAL_NODE_SELECTOR = {"vllm-inference.local/node": "real"}


def unschedulable_message(core: client.CoreV1Api, ns: str, name: str) -> str | None:
    pod = core.read_namespaced_pod(name, ns)
    for cond in pod.status.conditions or []:
        if cond.type == "PodScheduled" and cond.status == "False" and cond.reason == "Unschedulable":
            return cond.message
    return None


def assert_stays_pending(core: client.CoreV1Api, ns: str, name: str) -> str:
    message = wait_until(
        f"pod {name} reported Unschedulable", lambda: unschedulable_message(core, ns, name), 60
    )
    time.sleep(3)  # and it is still not bound a moment later
    pod = core.read_namespaced_pod(name, ns)
    assert pod.spec.node_name is None and pod.status.phase == "Pending"
    return message


def gpu_nodes(core: client.CoreV1Api) -> list[client.V1Node]:
    return [n for n in core.list_node().items if int(n.status.allocatable.get(GPU, "0")) > 0]


def test_gpu_pod_without_the_gpu_toleration_stays_pending(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod_manifest("no-toleration", gpus=1))
    message = assert_stays_pending(core, namespace, "no-toleration")
    # Every node that has GPUs refused it for its taint (the CPU node for lack of GPUs).
    assert f"{len(gpu_nodes(core))} node(s) had untolerated taint" in message


@pytest.mark.parametrize("capacity_type", ["on-demand", "spot"])
def test_gpu_pod_with_the_toleration_runs_on_a_gpu_node_of_its_pool(
    core: client.CoreV1Api, namespace: str, capacity_type: str
) -> None:
    selector = {"karpenter.sh/capacity-type": capacity_type}
    core.create_namespaced_pod(
        namespace, pod_manifest("tolerating", gpus=1, tolerate_gpu=True, node_selector=selector)
    )
    node = running_node(core, namespace, "tolerating")
    assert node.metadata.labels["karpenter.sh/capacity-type"] == capacity_type
    assert int(node.status.allocatable[GPU]) >= 1
    assert any(t.key == "gpu" and t.effect == "NoSchedule" for t in node.spec.taints or [])


def test_the_real_gpu_node_hands_containers_their_fake_gpus(core: client.CoreV1Api, namespace: str) -> None:
    command = ["/bin/sh", "-c", 'echo "gpu=$VLLM_SIM_GPU devices=$NVIDIA_VISIBLE_DEVICES"; sleep 600']
    manifest = pod_manifest(
        "env", gpus=1, tolerate_gpu=True, node_selector=REAL_NODE_SELECTOR, image=SIM_IMAGE, command=command
    )
    core.create_namespaced_pod(namespace, manifest)
    running_node(core, namespace, "env")
    logs = wait_until("the pod's first log line", lambda: core.read_namespaced_pod_log("env", namespace), 30)
    gpu_type = core.read_node(core.read_namespaced_pod("env", namespace).spec.node_name).metadata.labels[
        "nvidia.com/gpu.product"
    ]
    assert logs.startswith(f"gpu={gpu_type.removeprefix('NVIDIA-')} devices=GPU-")
    assert "," not in logs.split("devices=")[1].strip()  # exactly one device for one requested GPU


def test_a_pod_asking_more_gpus_than_any_node_has_stays_pending(
    core: client.CoreV1Api, namespace: str
) -> None:
    most = max(int(n.status.allocatable[GPU]) for n in gpu_nodes(core))
    core.create_namespaced_pod(namespace, pod_manifest("too-many", gpus=most + 1, tolerate_gpu=True))
    message = assert_stays_pending(core, namespace, "too-many")
    assert f"Insufficient {GPU}" in message


def test_gpus_in_use_on_the_real_node_are_not_handed_out_twice(
    core: client.CoreV1Api, namespace: str
) -> None:
    node = next(n for n in gpu_nodes(core) if n.metadata.labels.get("vllm-inference.local/node") == "real")
    used = sum(
        int((c.resources.requests or {}).get(GPU, "0"))
        for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node.metadata.name}").items
        if p.status.phase not in ("Succeeded", "Failed")
        for c in p.spec.containers
    )
    free = int(node.status.allocatable[GPU]) - used
    assert free >= 1, f"{node.metadata.name} has no free GPU to run this test"
    kwargs = {"tolerate_gpu": True, "node_selector": REAL_NODE_SELECTOR}
    core.create_namespaced_pod(namespace, pod_manifest("takes-all", gpus=free, **kwargs))
    running_node(core, namespace, "takes-all")
    core.create_namespaced_pod(namespace, pod_manifest("one-more", gpus=1, **kwargs))
    assert f"Insufficient {GPU}" in assert_stays_pending(core, namespace, "one-more")

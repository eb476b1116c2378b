"""GPU pools are isolated and GPU capacity is accounted, on any cluster with the local cluster's node pools
(the gpu=true:NoSchedule taint, GKE's node-pool and spot labels and spot taint, nvidia.com/gpu capacity)."""

from __future__ import annotations

import re
import time

import pykube
import pytest

from .kube import (
    GPU,
    REAL_NODE_SELECTOR,
    SIM_IMAGE,
    allocatable_gpus,
    capacity_type,
    has_gpu_taint,
    pod_manifest,
    pool_selector,
    running_node,
    wait_until,
)


def pod(api: pykube.HTTPClient, ns: str, name: str) -> pykube.Pod:
    return pykube.Pod.objects(api, namespace=ns).get(name=name)


def unschedulable_message(api: pykube.HTTPClient, ns: str, name: str) -> str | None:
    for cond in pod(api, ns, name).obj["status"].get("conditions", []):
        if (
            cond["type"] == "PodScheduled"
            and cond["status"] == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            return cond["message"]
    return None


def assert_stays_pending(api: pykube.HTTPClient, ns: str, name: str) -> str:
    message = wait_until(
        f"pod {name} reported Unschedulable", lambda: unschedulable_message(api, ns, name), 60
    )
    time.sleep(3)  # and it is still not bound a moment later
    obj = pod(api, ns, name).obj
    assert "nodeName" not in obj["spec"] and obj["status"]["phase"] == "Pending"
    return message


def gpu_nodes(api: pykube.HTTPClient) -> list[pykube.Node]:
    return [n for n in pykube.Node.objects(api) if allocatable_gpus(n) > 0]


def test_gpu_pod_without_the_gpu_toleration_stays_pending(api: pykube.HTTPClient, namespace: str) -> None:
    pykube.Pod(api, pod_manifest("no-toleration", namespace, gpus=1)).create()
    message = assert_stays_pending(api, namespace, "no-toleration")
    # Every node that has GPUs refused it for a taint (the CPU node for lack of GPUs); the scheduler groups
    # the nodes by the first taint each refused on.
    refused = sum(int(n) for n in re.findall(r"(\d+) node\(s\) had untolerated taint", message))
    assert refused == len(gpu_nodes(api)), message


@pytest.mark.parametrize("capacity", ["on-demand", "spot"])
def test_gpu_pod_with_the_toleration_runs_on_a_gpu_node_of_its_pool(
    api: pykube.HTTPClient, namespace: str, capacity: str
) -> None:
    manifest = pod_manifest(
        "tolerating",
        namespace,
        gpus=1,
        tolerate_gpu=True,
        tolerate_spot=capacity == "spot",
        node_selector=pool_selector(capacity),
    )
    pykube.Pod(api, manifest).create()
    node = running_node(api, namespace, "tolerating")
    assert capacity_type(node) == capacity
    assert allocatable_gpus(node) >= 1
    assert has_gpu_taint(node)


def test_the_real_gpu_node_hands_containers_their_fake_gpus(api: pykube.HTTPClient, namespace: str) -> None:
    command = ["/bin/sh", "-c", 'echo "gpu=$VLLM_SIM_GPU devices=$NVIDIA_VISIBLE_DEVICES"; sleep 600']
    manifest = pod_manifest(
        "env",
        namespace,
        gpus=1,
        tolerate_gpu=True,
        node_selector=REAL_NODE_SELECTOR,
        image=SIM_IMAGE,
        command=command,
    )
    pykube.Pod(api, manifest).create()
    node = running_node(api, namespace, "env")
    logs = wait_until("the pod's first log line", lambda: pod(api, namespace, "env").logs(), 30)
    gpu_type = node.labels["nvidia.com/gpu.product"]
    assert logs.startswith(f"gpu={gpu_type.removeprefix('NVIDIA-')} devices=GPU-")
    assert "," not in logs.split("devices=")[1].strip()  # exactly one device for one requested GPU


def test_a_pod_asking_more_gpus_than_any_node_has_stays_pending(
    api: pykube.HTTPClient, namespace: str
) -> None:
    most = max(allocatable_gpus(n) for n in gpu_nodes(api))
    pykube.Pod(api, pod_manifest("too-many", namespace, gpus=most + 1, tolerate_gpu=True)).create()
    message = assert_stays_pending(api, namespace, "too-many")
    assert f"Insufficient {GPU}" in message


@pytest.mark.serial
def test_gpus_in_use_on_the_real_node_are_not_handed_out_twice(
    api: pykube.HTTPClient, namespace: str
) -> None:
    real = [n for n in gpu_nodes(api) if n.labels.get("vllm-inference.local/node") == "real"]
    node = next(n for n in real if capacity_type(n) == "on-demand")
    on_node = pykube.Pod.objects(api, namespace=pykube.all).filter(
        field_selector={"spec.nodeName": node.name}
    )
    used = sum(
        int(c.get("resources", {}).get("requests", {}).get(GPU, "0"))
        for p in on_node
        if p.obj["status"].get("phase") not in ("Succeeded", "Failed")
        for c in p.obj["spec"]["containers"]
    )
    free = allocatable_gpus(node) - used
    assert free >= 1, f"{node.name} has no free GPU to run this test"
    kwargs = {"tolerate_gpu": True, "node_selector": REAL_NODE_SELECTOR}
    pykube.Pod(api, pod_manifest("takes-all", namespace, gpus=free, **kwargs)).create()
    running_node(api, namespace, "takes-all")
    pykube.Pod(api, pod_manifest("one-more", namespace, gpus=1, **kwargs)).create()
    assert f"Insufficient {GPU}" in assert_stays_pending(api, namespace, "one-more")

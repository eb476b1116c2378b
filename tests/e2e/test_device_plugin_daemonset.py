"""deploy/fake-gpu-device-plugin/daemonset.yaml, as a kind user applies it, registers with a real kubelet and
hands containers their fake GPUs. It runs under its own resource name here, beside the node's own plugin."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pykube
import pytest
import yaml
from pytest_helm_charts.k8s.daemon_set import wait_for_daemon_sets_to_run

from .kube import REAL_NODE_SELECTOR, ROOT, SIM_IMAGE, capacity_type, pod_manifest, running_node, wait_until

MANIFEST = ROOT / "deploy" / "fake-gpu-device-plugin" / "daemonset.yaml"
RESOURCE = "example.com/fake-gpu-e2e"
NODE_LABEL = "vllm-inference.io/fake-gpu"


def real_node(api: pykube.HTTPClient) -> pykube.Node:
    """A real on-demand node (no spot taint for the DaemonSet and the consumer to tolerate)."""
    nodes = [
        n
        for n in pykube.Node.objects(api).filter(selector=REAL_NODE_SELECTOR)
        if capacity_type(n) == "on-demand"
    ]
    assert nodes, "no on-demand node labelled vllm-inference.local/node=real (the local cluster's workers)"
    return nodes[0]


@pytest.fixture
def plugin_node(api: pykube.HTTPClient, namespace: str) -> Iterator[pykube.Node]:
    """The manifest applied in the test namespace (3 x T4 under RESOURCE) on the labelled real node."""
    docs = [copy.deepcopy(d) for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
        if doc["kind"] == "ConfigMap":
            doc["data"].update(FAKE_GPU_COUNT="3", FAKE_GPU_TYPE="T4", FAKE_GPU_RESOURCE=RESOURCE)
        if doc["kind"] == "DaemonSet":
            # system-node-critical is kube-system's; the test namespace is not.
            doc["spec"]["template"]["spec"].pop("priorityClassName")
    node = real_node(api)
    node.patch({"metadata": {"labels": {NODE_LABEL: "true"}}})
    try:
        for doc in docs:
            pykube.object_factory(api, doc["apiVersion"], doc["kind"])(api, doc).create()
        yield node
    finally:
        node.patch({"metadata": {"labels": {NODE_LABEL: None}}})


def test_the_daemonset_advertises_its_gpus_and_allocates_them(
    api: pykube.HTTPClient, namespace: str, plugin_node: pykube.Node
) -> None:
    wait_for_daemon_sets_to_run(api, ["fake-gpu-device-plugin"], namespace, 120)

    def advertised() -> bool:
        plugin_node.reload()
        return plugin_node.obj["status"].get("allocatable", {}).get(RESOURCE) == "3"

    wait_until(f"{RESOURCE}=3 allocatable on {plugin_node.name}", advertised, 120, 2)
    command = ["/bin/sh", "-c", 'echo "gpu=$VLLM_SIM_GPU devices=$NVIDIA_VISIBLE_DEVICES"; sleep 600']
    pod = pod_manifest(
        "consumer",
        namespace,
        image=SIM_IMAGE,
        command=command,
        tolerate_gpu=True,
        node_selector={"kubernetes.io/hostname": plugin_node.name},
    )
    resources = pod["spec"]["containers"][0]["resources"]
    resources["requests"][RESOURCE] = resources["limits"][RESOURCE] = "2"
    pykube.Pod(api, pod).create()
    running_node(api, namespace, "consumer")
    consumer = pykube.Pod.objects(api, namespace=namespace).get(name="consumer")
    logs = wait_until("the consumer's log", consumer.logs, 90, 2)
    gpu, devices = logs.strip().split(" ")
    assert gpu == "gpu=T4"
    assert len(devices.removeprefix("devices=").split(",")) == 2

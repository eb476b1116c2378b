"""deploy/fake-gpu-device-plugin/daemonset.yaml, as a kind user applies it, registers with a real kubelet and
hands containers their fake GPUs. It runs under its own resource name here, beside the node's own plugin."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, utils

from .kube import SIM_IMAGE, pod_manifest, running_node, wait_until

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "fake-gpu-device-plugin" / "daemonset.yaml"
RESOURCE = "example.com/fake-gpu-e2e"
NODE_LABEL = "vllm-inference.io/fake-gpu"


def real_node(core: client.CoreV1Api) -> str:
    nodes = core.list_node(label_selector="vllm-inference.local/node=real").items
    assert nodes, "no node labelled vllm-inference.local/node=real (the local cluster's worker)"
    return nodes[0].metadata.name


@pytest.fixture
def plugin_node(core: client.CoreV1Api, namespace: str) -> Iterator[str]:
    """The manifest applied in the test namespace (3 x T4 under RESOURCE) on the labelled real node."""
    docs = [copy.deepcopy(d) for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
        if doc["kind"] == "ConfigMap":
            doc["data"].update(FAKE_GPU_COUNT="3", FAKE_GPU_TYPE="T4", FAKE_GPU_RESOURCE=RESOURCE)
        if doc["kind"] == "DaemonSet":
            # system-node-critical is kube-system's; the test namespace is not.
            doc["spec"]["template"]["spec"].pop("priorityClassName")
    node = real_node(core)
    core.patch_node(node, {"metadata": {"labels": {NODE_LABEL: "true"}}})
    try:
        utils.create_from_yaml(client.ApiClient(), yaml_objects=docs, namespace=namespace)
        yield node
    finally:
        core.patch_node(node, {"metadata": {"labels": {NODE_LABEL: None}}})


def test_the_daemonset_advertises_its_gpus_and_allocates_them(
    core: client.CoreV1Api, namespace: str, plugin_node: str
) -> None:
    def advertised() -> bool:
        return core.read_node(plugin_node).status.allocatable.get(RESOURCE) == "3"

    wait_until(f"{RESOURCE}=3 allocatable on {plugin_node}", advertised, 120, 2)
    command = ["/bin/sh", "-c", 'echo "gpu=$VLLM_SIM_GPU devices=$NVIDIA_VISIBLE_DEVICES"; sleep 600']
    pod = pod_manifest(
        "consumer",
        image=SIM_IMAGE,
        command=command,
        tolerate_gpu=True,
        node_selector={"vllm-inference.local/node": "real"},
    )
    resources = pod["spec"]["containers"][0]["resources"]
    resources["requests"][RESOURCE] = resources["limits"][RESOURCE] = "2"
    core.create_namespaced_pod(namespace, pod)
    running_node(core, namespace, "consumer")
    logs = wait_until(
        "the consumer's log", lambda: core.read_namespaced_pod_log("consumer", namespace), 90, 2
    )
    gpu, devices = logs.strip().split(" ")
    assert gpu == "gpu=T4"
    assert len(devices.removeprefix("devices=").split(",")) == 2

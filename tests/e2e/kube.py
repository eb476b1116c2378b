"""What the end-to-end tier needs beyond pytest-helm-charts (which gives the cluster from KUBECONFIG, its
pykube client, namespaces and object waits): the helm binaries under test, a wait on any condition, the GPU
conventions of the node pools, and pod specs."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pykube
from pytest_helm_charts.utils import wait_for_objects_condition

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

GPU = "nvidia.com/gpu"
GPU_TOLERATION = {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
# The node pools are labelled and tainted as GKE does (capacityType.provider gke): spot nodes carry the spot
# label and its NoSchedule taint, on-demand nodes neither; each node names its node pool.
SPOT_LABEL = "cloud.google.com/gke-spot"
SPOT_TOLERATION = {"key": SPOT_LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
# Nodes that run containers (the rest are simulated by kwok: their pods run but are never Ready).
REAL_NODE_SELECTOR = {"vllm-inference.local/node": "real"}
PAUSE_IMAGE = "localhost/vllm-inference/pause:0.1.0"
SIM_IMAGE = "localhost/vllm-inference/vllm-sim:0.1.0"


def helm(name: str = "helm") -> str:
    """helm (v4) or helm3 from make tools; $HELM overrides helm."""
    if name == "helm" and os.environ.get("HELM"):
        return os.environ["HELM"]
    return str(ROOT / ".tools" / "bin" / name)


def kubectl() -> str:
    """kubectl from PATH (make tools-cluster links the cluster's own into .tools/bin)."""
    found = shutil.which("kubectl")
    assert found, "kubectl is not in PATH (make tools-cluster links the cluster's into .tools/bin)"
    return found


def wait_until(what: str, fn: Callable[[], T | None], timeout_s: float, interval_s: float = 1.0) -> T:
    """Poll fn until it returns a truthy value; fail naming `what` after timeout_s. For conditions that are
    not one object's state (logs, endpoints, a port-forward); objects use wait_for_objects_condition."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def allocatable_gpus(node: pykube.Node) -> int:
    return int(node.obj["status"].get("allocatable", {}).get(GPU, "0"))


def capacity_type(node: pykube.Node) -> str:
    return "spot" if node.labels.get(SPOT_LABEL) == "true" else "on-demand"


def pool_selector(capacity: str) -> dict[str, str]:
    """nodeSelector of the GPU node pool of a capacity type (on-demand nodes have no spot label to select)."""
    return {SPOT_LABEL: "true"} if capacity == "spot" else {NODE_POOL_LABEL: "gpu-on-demand"}


def has_gpu_taint(node: pykube.Node) -> bool:
    return any(t["key"] == "gpu" and t["effect"] == "NoSchedule" for t in node.obj["spec"].get("taints", []))


def pod_manifest(
    name: str,
    namespace: str,
    *,
    gpus: int = 0,
    tolerate_gpu: bool = False,
    tolerate_spot: bool = False,
    node_selector: dict[str, str] | None = None,
    image: str = PAUSE_IMAGE,
    command: list[str] | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "imagePullPolicy": "Never",
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
    }
    if gpus:
        container["resources"]["requests"][GPU] = str(gpus)
        container["resources"]["limits"][GPU] = str(gpus)
    if command:
        container["command"] = command
    spec: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 0}
    tolerations = [GPU_TOLERATION] if tolerate_gpu else []
    if tolerate_spot:
        tolerations.append(SPOT_TOLERATION)
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def host_path_volume(
    api: pykube.HTTPClient,
    name: str,
    path: Path,
    *,
    storage_class: str = "",
    claim: dict[str, str] | None = None,
) -> pykube.PersistentVolume:
    """A 1Gi ReadWriteMany hostPath PersistentVolume on `path` (every real node of the local cluster sees the
    host's disk; the cluster has no provisioner), created: offered under `storage_class`, or pre-bound to
    `claim` ({namespace, name})."""
    spec: dict[str, Any] = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteMany"],
        "storageClassName": storage_class,
        "persistentVolumeReclaimPolicy": "Retain",
        "hostPath": {"path": str(path), "type": "Directory"},
    }
    if claim is not None:
        spec["claimRef"] = claim
    manifest = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}
    pv = pykube.PersistentVolume(api, manifest)
    pv.create()
    return pv


def running_node(api: pykube.HTTPClient, namespace: str, name: str) -> pykube.Node:
    """The node pod `name` runs on, once it is Running (within 90 s)."""
    try:
        (pod,) = wait_for_objects_condition(
            api, pykube.Pod, [name], namespace, lambda p: p.obj["status"].get("phase") == "Running", 90, False
        )
    except TimeoutError:
        status = pykube.Pod.objects(api, namespace=namespace).get(name=name).obj["status"]
        raise AssertionError(f"pod {name} not Running after 90s: {status}") from None
    return pykube.Node.objects(api).get(name=pod.obj["spec"]["nodeName"])

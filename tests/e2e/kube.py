"""Helpers of the end-to-end tier: the cluster from KUBECONFIG, bounded waits, tool paths, pod specs."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kubernetes import client

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

GPU = "nvidia.com/gpu"
GPU_TOLERATION = {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
PAUSE_IMAGE = "localhost/vllm-inference/pause:0.1.0"
SIM_IMAGE = "localhost/vllm-inference/vllm-sim:0.1.0"


def kubeconfig() -> str:
    """KUBECONFIG if set (any cluster), else the local cluster's (make cluster-up)."""
    return os.environ.get("KUBECONFIG") or str(ROOT / "build" / "cluster" / "kubeconfig")


def _versions() -> dict[str, str]:
    out = {}
    for line in (ROOT / "hack" / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = shlex.split(value)[0] if value.strip() else ""
    return out


def kubectl() -> str:
    """The kubectl built with the local cluster (or $KUBECTL)."""
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    cache = Path(os.environ.get("VLLM_INFERENCE_CACHE", Path.home() / ".cache" / "vllm-inference"))
    return str(cache / f"kubernetes-{_versions()['KUBERNETES_VERSION']}" / "bin" / "kubectl")


def helm(name: str = "helm") -> str:
    """helm (v4) or helm3 from make tools; $HELM overrides helm."""
    if name == "helm" and os.environ.get("HELM"):
        return os.environ["HELM"]
    return str(ROOT / ".tools" / "bin" / name)


def wait_until(what: str, fn: Callable[[], T | None], timeout_s: float, interval_s: float = 1.0) -> T:
    """Poll fn until it returns a truthy value; fail naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def pod_manifest(
    name: str,
    *,
    gpus: int = 0,
    tolerate_gpu: bool = False,
    node_selector: dict[str, str] | None = None,
    image: str = PAUSE_IMAGE,
    command: list[str] | None = None,
) -> dict:
    container: dict = {
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
    spec: dict = {"containers": [container], "terminationGracePeriodSeconds": 0}
    if tolerate_gpu:
        spec["tolerations"] = [GPU_TOLERATION]
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def running_node(core: client.CoreV1Api, ns: str, name: str) -> client.V1Node:
    """The node pod `name` runs on, once it is Running."""

    def running() -> str | None:
        pod = core.read_namespaced_pod(name, ns)
        return pod.spec.node_name if pod.status.phase == "Running" else None

    return core.read_node(wait_until(f"pod {name} Running", running, 90))


def delete_namespace(core: client.CoreV1Api, name: str) -> None:
    """Delete a namespace and wait until it is gone, so the GPUs its pods held are free again."""
    core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except client.ApiException as err:
            return err.status == 404
        return False

    wait_until(f"namespace {name} deleted", gone, 120)

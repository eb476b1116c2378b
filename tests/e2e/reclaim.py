"""A spot reclaim as GKE does it, on a real node of the local cluster.

GKE gives a spot VM 30 s between the preemption notice and the power-off; on the node, the kubelet's
graceful node shutdown gives ordinary pods the first 15 s (system pods the rest) and ignores
PodDisruptionBudgets; then the VM is gone, and its Node with it. The local node has no systemd-logind to
deliver the notice to its kubelet, so this driver does what GCP's node termination handler did before
graceful node shutdown replaced it, with the same effect on the pods: taint the node
(cloud.google.com/impending-node-termination:NoSchedule), delete its pods (ordinary ones first) with a
grace period of at most 15 s, bypassing the eviction API and so the PDBs, power the node off when they are
gone or the 30 s are up (hack/cluster/node.sh down), and delete the Node.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass

import pykube

from .kube import ROOT, wait_until

NOTICE_TAINT = {"key": "cloud.google.com/impending-node-termination", "effect": "NoSchedule"}
NOTICE_S = 30  # from the notice to the power-off
POD_GRACE_S = 15  # ordinary (non-system) pods' share of it
SYSTEM_NAMESPACES = ("kube-system",)
NODE_SH = ROOT / "hack" / "cluster" / "node.sh"


@dataclass
class Reclaim:
    node: str
    notice_at: float  # monotonic
    pods: dict[str, int]  # pod -> the grace period it was given
    pods_gone_at: float
    node_gone_at: float


def pods_on(api: pykube.HTTPClient, node: str) -> list[pykube.Pod]:
    pods = pykube.Pod.objects(api, namespace=pykube.all).filter(field_selector={"spec.nodeName": node})
    return [p for p in pods if p.obj["status"].get("phase") not in ("Succeeded", "Failed")]


def delete_with_grace(api: pykube.HTTPClient, pod: pykube.Pod, grace_s: int) -> None:
    r = api.delete(**pod.api_kwargs(data=json.dumps({"gracePeriodSeconds": grace_s})))
    if r.status_code != 404:
        api.raise_for_status(r)


def reclaim_spot_node(api: pykube.HTTPClient, node_name: str) -> Reclaim:
    node = pykube.Node.objects(api).get(name=node_name)
    notice_at = time.monotonic()
    taints = [t for t in node.obj["spec"].get("taints", []) if t["key"] != NOTICE_TAINT["key"]]
    node.patch({"spec": {"taints": [*taints, NOTICE_TAINT]}})
    given: dict[str, int] = {}
    pods = sorted(pods_on(api, node_name), key=lambda p: p.namespace in SYSTEM_NAMESPACES)
    for pod in pods:
        grace = min(int(pod.obj["spec"].get("terminationGracePeriodSeconds", 30)), POD_GRACE_S)
        delete_with_grace(api, pod, grace)
        given[f"{pod.namespace}/{pod.name}"] = grace
    deadline = notice_at + NOTICE_S
    while pods_on(api, node_name) and time.monotonic() < deadline:
        time.sleep(0.2)
    pods_gone_at = time.monotonic()
    subprocess.run(["bash", str(NODE_SH), "down", node_name], check=True, capture_output=True, text=True)
    node.reload()
    node.delete()
    wait_until(
        f"node {node_name} gone", lambda: pykube.Node.objects(api).get_or_none(name=node_name) is None, 30
    )
    return Reclaim(node_name, notice_at, given, pods_gone_at, time.monotonic())


def return_node(node_name: str) -> None:
    """A new spot VM under the same name joins the pool (its kubelet registers the node afresh)."""
    subprocess.run(
        ["bash", str(NODE_SH), "up", node_name], check=True, capture_output=True, text=True, timeout=240
    )

"""A spot reclaim as GKE does it, on a real node of the local cluster.

GCP sends a spot VM an ACPI power-off 30 s before it stops it. systemd-logind passes it on to the kubelet,
whose graceful node shutdown (GKE: shutdownGracePeriod 30 s, shutdownGracePeriodCriticalPods 15 s) reports
the node not ready ("node is shutting down"), terminates every pod (ordinary pods within the first 15 s,
whatever their own grace period, PodDisruptionBudgets not consulted: no pod is deleted or evicted) and gives
each the DisruptionTarget condition (reason TerminationByKubelet); then the VM is gone and GKE deletes its
Node.

Here the kubelets are real and so is their graceful node shutdown: each node has its own system bus and a
logind (hack/cluster/logind.py, nodes.sh), `node.sh poweroff NODE` sends it PowerOff, the kubelet does the
rest, and the node goes down when the kubelet has released its lock (or the 30 s are up); this driver then
deletes the Node, as GKE's node controller does once the VM is gone.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field

import pykube

from .kube import ROOT, wait_until

POD_GRACE_S = 15  # ordinary pods' share of the 30 s: the kubelet's shutdownGracePeriod - CriticalPods
NODE_SH = ROOT / "hack" / "cluster" / "node.sh"
KUBELET_LOG = ROOT / "build" / "cluster" / "logs" / "{node}.kubelet.log"
TERMINATED_BY_KUBELET = "TerminationByKubelet"


@dataclass
class Reclaim:
    node: str
    notice_at: float  # monotonic: the power-off notice
    not_ready_at: float | None = None  # the node reported "node is shutting down"
    terminated_at: dict[str, float] = field(default_factory=dict)  # pod -> when its containers had stopped
    grace: dict[str, int] = field(default_factory=dict)  # pod -> the grace period its kubelet gave it
    powered_off_at: float = 0.0
    node_gone_at: float = 0.0


def pods_on(api: pykube.HTTPClient, node: str) -> list[pykube.Pod]:
    return list(pykube.Pod.objects(api, namespace=pykube.all).filter(field_selector={"spec.nodeName": node}))


def shutting_down(node: pykube.Node) -> bool:
    for c in node.obj["status"].get("conditions", []):
        if c["type"] == "Ready" and c["status"] != "True" and "shutting down" in c.get("message", ""):
            return True
    return False


def terminated_by_kubelet(pod: pykube.Pod) -> bool:
    """The kubelet's shutdown manager stopped the pod (whose phase then follows its containers' exit)."""
    status = pod.obj["status"]
    disrupted = any(
        c["type"] == "DisruptionTarget" and c["status"] == "True" and c.get("reason") == TERMINATED_BY_KUBELET
        for c in status.get("conditions", [])
    )
    return disrupted and status.get("phase") in ("Succeeded", "Failed")


def kubelet_grace(node: str) -> dict[str, int]:
    """pod (namespace/name) -> gracePeriod, from the kubelet's log lines of its shutdown manager."""
    text = KUBELET_LOG.with_name(KUBELET_LOG.name.format(node=node)).read_text()
    line = re.compile(r'Shutdown manager killing pod with gracePeriod.*pod="([^"]+)".*gracePeriod=(\d+)')
    return {m.group(1): int(m.group(2)) for m in line.finditer(text)}


def reclaim_spot_node(api: pykube.HTTPClient, node_name: str) -> Reclaim:
    reclaim = Reclaim(node_name, time.monotonic())
    cmd = ["bash", str(NODE_SH), "poweroff", node_name]
    poweroff = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    node = pykube.Node.objects(api).get(name=node_name)
    while poweroff.poll() is None:
        now = time.monotonic()
        node.reload()
        if reclaim.not_ready_at is None and shutting_down(node):
            reclaim.not_ready_at = now
        for pod in pods_on(api, node_name):
            if terminated_by_kubelet(pod):
                reclaim.terminated_at.setdefault(f"{pod.namespace}/{pod.name}", now)
        time.sleep(0.2)
    out = poweroff.stdout.read() if poweroff.stdout else ""
    assert poweroff.returncode == 0, f"node.sh poweroff {node_name} failed:\n{out}"
    reclaim.powered_off_at = time.monotonic()
    reclaim.grace = kubelet_grace(node_name)
    node.delete()  # the VM is gone
    gone = lambda: pykube.Node.objects(api).get_or_none(name=node_name) is None  # noqa: E731
    wait_until(f"node {node_name} gone", gone, 30)
    reclaim.node_gone_at = time.monotonic()
    return reclaim


def return_node(node_name: str) -> None:
    """A new spot VM under the same name joins the pool (its kubelet registers the node afresh)."""
    cmd = ["bash", str(NODE_SH), "up", node_name]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=240)

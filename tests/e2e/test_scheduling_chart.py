"""The chart's pools on the node pools: each pool only on GPU nodes of its capacity type (never on the CPU
node), spread over nodes and zones; and a rollout on a node with no spare GPU completes with the chart's
default update strategy (no surge), where a surge pod would wait for a GPU that is not there."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pykube
import pytest
import yaml

from .conftest import Figure
from .kube import GPU, allocatable_gpus, capacity_type, wait_until
from .release import E2E_VALUES, LOCAL_SIM, Release


def unpinned(tmp_path: Path, replicas: dict[str, int]) -> Path:
    """values/local-sim.yaml without its pin of the pools to the real nodes: every GPU node of a pool's
    capacity type, real or simulated, may take its pods (simulated ones never become Ready)."""
    values = yaml.safe_load(LOCAL_SIM.read_text())
    for pool, n in replicas.items():
        values["pools"][pool].pop("nodeSelector", None)
        values["pools"][pool]["replicas"] = n
    path = tmp_path / "unpinned.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_each_pool_runs_only_on_gpu_nodes_of_its_capacity_type_spread_over_zones(
    api: pykube.HTTPClient, release: Release, figure: Figure, tmp_path: Path
) -> None:
    replicas = {"onDemand": 3, "spot": 5}
    out = release.chart_cmd("upgrade", "--install", base=unpinned(tmp_path, replicas))
    assert out.returncode == 0, out.stderr

    def all_bound() -> bool:
        pods = release.pods()
        return len(pods) == sum(replicas.values()) and all(p.obj["spec"].get("nodeName") for p in pods)

    wait_until("every pod of the release bound to a node", all_bound, 90)
    nodes = {n.name: n for n in pykube.Node.objects(api)}
    for pool, capacity in (("onDemand", "on-demand"), ("spot", "spot")):
        placed = [nodes[p.obj["spec"]["nodeName"]] for p in release.pods(pool)]
        zones = Counter(n.labels["topology.kubernetes.io/zone"] for n in placed)
        figure(f"{pool}: {Counter(n.name for n in placed)}; zones {dict(zones)}")
        assert {capacity_type(n) for n in placed} == {capacity}
        assert all(allocatable_gpus(n) >= 1 for n in placed)  # never the CPU node
        # Spread (ScheduleAnyway) over the pool's nodes and zones, as far as the cluster has them.
        eligible = [n for n in nodes.values() if allocatable_gpus(n) and capacity_type(n) == capacity]
        eligible_zones = {n.labels["topology.kubernetes.io/zone"] for n in eligible}
        assert len({n.name for n in placed}) >= min(2, len(eligible))
        assert len(zones) == min(2, len(eligible_zones))


def gpu_pods_on(api: pykube.HTTPClient, node: str) -> int:
    pods = pykube.Pod.objects(api, namespace=pykube.all).filter(field_selector={"spec.nodeName": node})
    return sum(
        1
        for p in pods
        if p.obj["status"].get("phase") not in ("Succeeded", "Failed")
        and any(GPU in c.get("resources", {}).get("limits", {}) for c in p.obj["spec"]["containers"])
    )


@pytest.mark.serial
def test_a_rollout_on_a_node_with_no_spare_gpu_completes_without_surge(
    api: pykube.HTTPClient, release: Release, figure: Figure
) -> None:
    release.install(E2E_VALUES / "full-node.yaml")
    release.wait_serving({"onDemand": 4}, timeout_s=240)
    (node,) = {p.obj["spec"]["nodeName"] for p in release.pods("onDemand")}
    assert gpu_pods_on(api, node) == allocatable_gpus(pykube.Node.objects(api).get(name=node))
    old = {p.name for p in release.pods()}
    release.roll(E2E_VALUES / "full-node.yaml")
    release.wait_rolled_out("onDemand", timeout_s=300)
    wait_until("the old pods gone", lambda: not old & {p.name for p in release.pods()}, 120)
    figure(f"maxSurge 0: the rollout of 4 replicas on {node} (4 of 4 GPUs in use) completed")

    # A surge (maxSurge 1, maxUnavailable 0) has no GPU to start on: why the chart's default does not surge.
    release.upgrade(
        E2E_VALUES / "full-node.yaml",
        sets=[
            "rollout.spareGpuCapacity=true",  # stated, not true here: the surge pod has nowhere to go
            "updateStrategy.rollingUpdate.maxSurge=1",
            "updateStrategy.rollingUpdate.maxUnavailable=0",
        ],
    )

    def surge_waiting() -> str | None:
        for p in release.pods("onDemand"):
            for c in p.obj["status"].get("conditions", []):
                if (
                    c["type"] == "PodScheduled"
                    and c["status"] == "False"
                    and f"Insufficient {GPU}" in c.get("message", "")
                ):
                    return str(c["message"])
        return None

    message = wait_until("the surge pod waiting for a GPU", surge_waiting, 60)
    figure(f"maxSurge 1 on the full node: the surge pod waits ({message})")

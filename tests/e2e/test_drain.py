"""Drain and PDB: `kubectl drain` of the spot node under load evicts within the spot pool's budget and never
below it (maxUnavailable 1 of 2: one eviction; the second waits for a replacement, which has nowhere to go
while the only real spot node is cordoned), and loses no request: the evicted pod drains, the other pods
serve."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pykube
import pytest

from .conftest import Figure
from .kube import REAL_NODE_SELECTOR, capacity_type, wait_until
from .release import E2E_VALUES, Release
from .traffic import STREAMING, start_load

DRAIN_TIMEOUT_S = 25


def spot_node(api: pykube.HTTPClient) -> pykube.Node:
    nodes = pykube.Node.objects(api).filter(selector=REAL_NODE_SELECTOR)
    return next(n for n in nodes if capacity_type(n) == "spot")


@pytest.mark.serial
def test_draining_the_spot_node_under_load_holds_the_budget_and_loses_nothing(
    api: pykube.HTTPClient, node_client: Path, release: Release, figure: Figure
) -> None:
    release.install(E2E_VALUES / "spot-two.yaml")
    release.wait_serving({"onDemand": 1, "spot": 2})
    node = spot_node(api)
    assert {p.obj["spec"]["nodeName"] for p in release.pods("spot")} == {node.name}
    spot = {p.name for p in release.pods("spot")}

    # Every 0.2 s during the drain: the spot pods still serving (Ready, not terminating) and those evicted.
    serving_counts: list[int] = []
    evicted: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            pods = release.pods("spot")
            evicted.update(p.name for p in pods if p.name in spot and "deletionTimestamp" in p.metadata)
            serving_counts.append(len([p for p in release.ready_pods("spot") if p.name in spot]))
            time.sleep(0.2)

    load = start_load(
        release.service_url, *STREAMING, "--rate", "10", "--requests", "300", "--duration", "30"
    )
    time.sleep(4)
    watcher = threading.Thread(target=watch)
    watcher.start()
    drain = subprocess.run(
        ["kubectl", "--kubeconfig", release.kubeconfig, "drain", node.name, "--ignore-daemonsets",
         "--delete-emptydir-data", f"--timeout={DRAIN_TIMEOUT_S}s"],
        capture_output=True, text=True, timeout=DRAIN_TIMEOUT_S + 30, check=False,
    )  # fmt: skip
    stop.set()
    watcher.join()
    try:
        report = load.result()
    finally:
        subprocess.run(["kubectl", "--kubeconfig", release.kubeconfig, "uncordon", node.name], check=True)
    output = drain.stdout + drain.stderr
    figure(f"drain of {node.name}: evicted {len(evicted)} of {len(spot)} spot pods (PDB maxUnavailable 1)")
    figure(f"spot pods serving during the drain: at least {min(serving_counts)} (of {len(spot)})")
    figure(report["summary"])

    assert len(evicted) == 1, f"evicted {sorted(evicted)}"
    assert min(serving_counts) >= 1
    assert drain.returncode != 0 and "disruption budget" in output, output  # it waited at the budget
    assert report["lost"] == 0, report["errors"]
    # Uncordoned, the spot node takes the replacement back.
    release.wait_serving({"onDemand": 1, "spot": 2})
    wait_until("no spot pod left over", lambda: len(release.pods("spot")) == 2, 60)

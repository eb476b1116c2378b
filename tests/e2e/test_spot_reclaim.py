"""Spot reclaim as GKE does it (tests/e2e/reclaim.py), under streaming load through the Service: the notice
taint, the spot pods deleted with GKE's 15 s for ordinary pods whatever their PDB, the node gone. In-flight
requests complete, the on-demand pool takes the traffic, no request is lost, and the spot replicas are
rescheduled when a spot node returns."""

from __future__ import annotations

import time
from pathlib import Path

import pykube

from .conftest import Figure
from .reclaim import POD_GRACE_S, reclaim_spot_node, return_node
from .release import E2E_VALUES, Release
from .test_drain import LOAD, spot_node
from .traffic import start_load


def test_a_gke_spot_reclaim_under_load_loses_nothing_and_the_pool_returns_with_a_node(
    api: pykube.HTTPClient, node_client: Path, release: Release, figure: Figure
) -> None:
    release.install(E2E_VALUES / "spot-two.yaml")
    release.wait_serving({"onDemand": 1, "spot": 2})
    node = spot_node(api).name
    (on_demand,) = release.ready_pods("onDemand")
    spot = {p.name for p in release.pods("spot")}
    before = release.served(on_demand)

    load = start_load(release.service_url, *LOAD, "--rate", "10", "--requests", "400", "--duration", "40")
    time.sleep(5)
    reclaim = reclaim_spot_node(api, node)
    notice_at, gone_at = load.offset(reclaim.notice_at), load.offset(reclaim.pods_gone_at)
    # The replacements wait: no spot node takes them while the spot node is gone.
    pending = [p for p in release.pods("spot") if p.name not in spot]
    assert pending and all(not p.obj["spec"].get("nodeName") for p in pending)
    report = load.result()
    after = release.served(on_demand)

    spot_grace = {name: g for name, g in reclaim.pods.items() if name.split("/")[1] in spot}
    node_gone = reclaim.node_gone_at - reclaim.notice_at
    figure(
        f"reclaim of {node}: notice at {notice_at:.1f} s, its pods gone {gone_at - notice_at:.1f} s later "
        f"(grace given {sorted(set(spot_grace.values()))} s), the node gone {node_gone:.1f} s after notice"
    )
    late = [r for r in report["requests"] if r["start_s"] > gone_at]
    figure(
        f"the on-demand pod served {after - before:.0f}; {len(late)} started after the spot pods were gone"
    )
    figure(report["summary"])

    assert set(spot_grace) == {f"{release.namespace}/{p}" for p in spot}  # both, PDB or not
    assert set(spot_grace.values()) == {POD_GRACE_S}
    assert gone_at - notice_at <= POD_GRACE_S + 5
    assert report["lost"] == 0, report["errors"]
    assert late and after - before >= len(late)

    return_node(node)
    release.wait_serving({"onDemand": 1, "spot": 2}, timeout_s=240)
    assert {p.obj["spec"]["nodeName"] for p in release.ready_pods("spot")} == {node}

"""Spot reclaim as GKE does it (tests/e2e/reclaim.py), under streaming load through the Service: the power-off
notice reaches the spot node's kubelet, whose graceful node shutdown reports the node shutting down and
terminates both spot pods at once with GKE's 15 s for ordinary pods, whatever their PDB; then the node is
gone. In-flight requests complete, the on-demand pool takes the traffic, no request is lost, and the spot
replicas are rescheduled when a spot node returns."""

from __future__ import annotations

import time
from pathlib import Path

import pykube
import pytest

from .conftest import Figure
from .kube import wait_until
from .reclaim import POD_GRACE_S, reclaim_spot_node, return_node
from .release import E2E_VALUES, Release
from .test_drain import spot_node
from .traffic import STREAMING, Load, start_load

# Nothing removes the endpoints of pods on a node that shuts down before their server stops accepting (the
# kubelet deletes no pod): requests arriving then are refused (503, connection refused) and retried, as the
# openai SDK retries them by default; so is a connection to one of their addresses that is never made once
# the node has gone (connect_timeout: the request never reached a server). Requests lost are those that
# still fail.
RETRIES = 4  # 0.5 + 1 + 2 + 4 s of backoff


@pytest.mark.serial
def test_a_gke_spot_reclaim_under_load_loses_nothing_and_the_pool_returns_with_a_node(
    api: pykube.HTTPClient, node_client: Path, release: Release, figure: Figure
) -> None:
    release.install(E2E_VALUES / "spot-two.yaml")
    release.wait_serving({"onDemand": 1, "spot": 2})
    node = spot_node(api).name
    (on_demand,) = release.ready_pods("onDemand")
    spot = {p.name for p in release.pods("spot")}
    before = release.served(on_demand)

    rate = ("--rate", "10", "--requests", "400", "--duration", "40")
    load = start_load(release.service_url, *STREAMING, *rate, "--retries", str(RETRIES))
    time.sleep(5)
    try:
        check_reclaim(api, release, figure, load, node, spot, before)
    finally:
        restore_node(api, node)  # leave the cluster whole for the next scenario, whatever failed
    release.wait_serving({"onDemand": 1, "spot": 2}, timeout_s=240)
    assert {p.obj["spec"]["nodeName"] for p in release.ready_pods("spot")} == {node}


def restore_node(api: pykube.HTTPClient, name: str) -> None:
    """The spot node back when the scenario left it gone or powered off (a failure part-way through)."""
    node = pykube.Node.objects(api).get_or_none(name=name)
    ready = node is not None and any(
        c["type"] == "Ready" and c["status"] == "True" for c in node.obj["status"].get("conditions", [])
    )
    if ready:
        return
    if node is not None:
        node.delete()  # a powered-off VM that was never deleted: its kubelet registers it afresh
        wait_until(f"node {name} gone", lambda: pykube.Node.objects(api).get_or_none(name=name) is None, 30)
    return_node(name)


def check_reclaim(
    api: pykube.HTTPClient,
    release: Release,
    figure: Figure,
    load: Load,
    node: str,
    spot: set[str],
    before: float,
) -> None:
    """The reclaim of `node` under `load`: what the kubelet did, what the load saw; the spot node back."""
    (on_demand,) = release.ready_pods("onDemand")
    try:
        reclaim = reclaim_spot_node(api, node)
    except BaseException:
        load.proc.kill()
        raise
    notice_at = load.offset(reclaim.notice_at)
    # The replacements wait: no spot node takes them while the spot node is gone.
    waiting = [
        p for p in release.pods("spot") if p.name not in spot and p.obj["status"].get("phase") != "Failed"
    ]
    assert waiting and all(not p.obj["spec"].get("nodeName") for p in waiting)
    report = load.result()
    after = release.served(on_demand)

    ours = {f"{release.namespace}/{name}" for name in spot}
    grace = {pod: reclaim.grace.get(pod) for pod in sorted(ours)}
    terminated = {
        pod: reclaim.terminated_at[pod] - reclaim.notice_at for pod in ours if pod in reclaim.terminated_at
    }
    gone_at = load.offset(max(reclaim.terminated_at[p] for p in terminated)) if terminated else float("inf")
    shutting_down = None if reclaim.not_ready_at is None else reclaim.not_ready_at - reclaim.notice_at
    given = sorted(set(grace.values()), key=str)
    figure(
        f"reclaim of {node}: notice at {notice_at:.1f} s; then the node shutting down after "
        f"{shutting_down or 0:.1f} s, its kubelet giving the spot pods {given} s, "
        f"the pods stopped after {sorted(round(t, 1) for t in terminated.values())} s, the node powered off "
        f"after {reclaim.powered_off_at - reclaim.notice_at:.1f} s, gone after "
        f"{reclaim.node_gone_at - reclaim.notice_at:.1f} s"
    )
    late = [r for r in report["requests"] if r["start_s"] > gone_at]
    figure(
        f"the on-demand pod served {after - before:.0f}; {len(late)} started after the spot pods were gone"
    )
    figure(f"{report['summary']} (retried: refused at first while the spot pods drained, then answered)")

    assert shutting_down is not None, "the node never reported that it was shutting down"
    assert set(grace.values()) == {POD_GRACE_S}, grace  # both pods at once, PDB or not, with GKE's 15 s
    assert set(terminated) == ours and max(terminated.values()) <= POD_GRACE_S + 3, terminated
    assert report["lost"] == 0, report["errors"]
    assert late and after - before >= len(late)
    return_node(node)

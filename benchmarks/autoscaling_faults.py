"""Faults under the chart's KEDA autoscaling on the local cluster (run by benchmarks/autoscaling_bench.py
after the comparison, `--faults`; each prints its figures and returns them):

  - replica killed under load: the server of one of two Ready replicas SIGKILLed (a crash) while 16 streams
    run; the requests it held fail, counted by class by the load client; the pool is back at 2 Ready;
  - Prometheus down: the cluster's Prometheus scaled to 0 (prometheus-operator's `replicas`); KEDA's scaler
    errors, the fallback holds the pool's replicas; Prometheus back, the scaler healthy again;
  - spot + on-demand: both pools autoscaled with the recipe's 70/30 split; the spot node reclaimed as GKE does
    (tests/e2e/reclaim.py) during a load step: traffic moves to on-demand, whose queue share makes KEDA grow
    it; lost requests and seconds below the TTFT SLO printed; the spot node returns.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykube

from tests.e2e.autoscaling import Watch, conditions, query, scaled_object, seconds_over_slo
from tests.e2e.reclaim import reclaim_spot_node, return_node
from tests.e2e.release import Release
from tests.e2e.test_drain import spot_node
from tests.e2e.traffic import STREAMING, start_load

TTFT_SLO_S = 2.0
Install = Callable[[str, dict[str, Any]], Release]  # a release of the chart in a namespace of its own
Remove = Callable[[Release], None]  # uninstalled, its namespace deleted


def server_pids(pod: pykube.Pod) -> list[int]:
    """The host PIDs of the pod's vLLM server (the local cluster's containers are host processes in the pod's
    cgroup, whose path carries the pod's UID)."""
    uid = pod.obj["metadata"]["uid"].replace("-", "_")
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cgroup = (proc / "cgroup").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if (uid in cgroup or pod.obj["metadata"]["uid"] in cgroup) and b"vllm-sim serve" in cmdline:
            pids.append(int(proc.name))
    return pids


def replica_killed(install: Install, remove: Remove, values: dict[str, Any]) -> dict[str, Any]:
    release = install("kill", values)
    try:
        release.wait_serving({"onDemand": 2}, timeout_s=240)
        pace = ("--concurrency", "16", "--duration", "30", "--requests", "100000")
        load = start_load(release.service_url, *pace, *STREAMING)
        time.sleep(10)
        victim = release.ready_pods("onDemand")[0]
        pids = server_pids(victim)
        assert pids, f"no vllm-sim process of pod {victim.name} on this host"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)  # a crash: no drain, the streams it holds break
        killed_at = time.monotonic()
        report = load.result()
        release.wait_serving({"onDemand": 2}, timeout_s=180)
        back_s = time.monotonic() - killed_at
    finally:
        remove(release)
    out = {
        "lost": report["lost"],
        "sent": report["sent"],
        "errors": report["errors"],
        "back_s": round(back_s),
    }
    print(
        f"fault: replica killed under load: {report['summary']}; 2 Ready again {back_s:.0f} s after the kill"
    )
    return out


def prometheus_down(
    api: pykube.HTTPClient, install: Install, remove: Remove, values: dict[str, Any]
) -> dict[str, Any]:
    release = install("promdown", values)
    prom = pykube.object_factory(api, "monitoring.coreos.com/v1", "Prometheus")
    (server,) = prom.objects(api, namespace="monitoring").filter()
    name = f"{release.name}-vllm-inference-on-demand"
    try:
        release.wait_serving({"onDemand": 1}, timeout_s=240)
        server.patch({"spec": {"replicas": 0}})
        down_at = time.monotonic()

        def fell_back() -> bool:
            return conditions(scaled_object(api, release.namespace, name)).get("Fallback") == "True"

        deadline = time.monotonic() + 180
        while not fell_back() and time.monotonic() < deadline:
            time.sleep(2)
        fallback_s = time.monotonic() - down_at
        release.wait_serving({"onDemand": 2}, timeout_s=120)
        time.sleep(20)
        held = int(release.deployment("onDemand").obj["spec"]["replicas"])
    finally:
        server.reload()
        server.patch({"spec": {"replicas": 1}})
        _wait_prometheus(api)
        remove(release)
    print(
        f"fault: prometheus down: fallback after {fallback_s:.0f} s, {held} replicas held (fallback 2, min 1)"
    )
    return {"fallback_s": round(fallback_s), "held": held}


def _wait_prometheus(api: pykube.HTTPClient) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if query(api, "vector(1)") == 1.0:
                return
        except (pykube.exceptions.HTTPError, OSError, AssertionError):
            pass
        time.sleep(2)
    raise AssertionError("Prometheus did not come back within 180 s")


def spot_reclaim(
    api: pykube.HTTPClient, install: Install, remove: Remove, values: dict[str, Any]
) -> dict[str, Any]:
    release = install("spot", values)
    node = spot_node(api).name
    watch = Watch(release, "onDemand")
    try:
        release.wait_serving({"onDemand": 1, "spot": 1}, timeout_s=240)
        watch.start()
        pace = ("--concurrency", "24", "--duration", "90", "--requests", "100000", "--retries", "4")
        load = start_load(release.service_url, *pace, *STREAMING)
        time.sleep(15)
        try:
            reclaim_spot_node(api, node)
        except BaseException:
            load.proc.kill()
            raise
        report = load.result(timeout_s=300)
        samples = watch.stop()
    finally:
        watch.stop()
        if pykube.Node.objects(api).get_or_none(name=node) is None:
            return_node(node)
        remove(release)
    below = seconds_over_slo(report, TTFT_SLO_S)
    peak = max(s.replicas for s in samples)
    print(
        f"fault: spot reclaim under load (70/30): {report['summary']}; "
        f"time below the TTFT SLO {below:.0f} s; on-demand grew to {peak} replicas"
    )
    return {"lost": report["lost"], "sent": report["sent"], "below_slo_s": below, "on_demand_peak": peak}


def run_all(
    api: pykube.HTTPClient, install: Install, remove: Remove, chart_values: dict[str, Any], out: Path
) -> dict[str, Any]:
    two = {**chart_values, "pools": {**chart_values["pools"], "onDemand": {"replicas": None, "minReplicas": 2,
                                                                           "maxReplicas": 3}}}  # fmt: skip
    split = {
        **chart_values,
        # spot ceil(4 x 0.7) = 3, on-demand 1 + the failover headroom (3): all the demand can move there.
        "autoscaling": {**chart_values["autoscaling"], "maxReplicas": 4},
        "pools": {
            "onDemand": {"replicas": None, "minReplicas": 1, "maxReplicas": None},
            "spot": {"enabled": True, "replicas": None, "minReplicas": 1, "maxReplicas": None},
        },
    }
    figures = {
        "replica_killed": replica_killed(install, remove, two),
        "prometheus_down": prometheus_down(api, install, remove, chart_values),
        "spot_reclaim": spot_reclaim(api, install, remove, split),
    }
    out.write_text(json.dumps(figures, indent=1))
    return figures

"""Autoscaling observed on the local cluster's real KEDA and Prometheus (hack/cluster/addons.sh), the short
version of benchmarks/autoscaling_bench.py: the chart's ServiceMonitor makes the scrape happen and its
PrometheusRule is loaded; a load step over the queue threshold scales the pool out, the new replicas become
Ready and the queue falls, and once the step ends the pool scales back in while a light load keeps requests in
flight, none failed; Prometheus unreachable or the series absent is an error KEDA answers with its fallback
replicas, never a silent 0; a pool at zero wakes on its first request through the gateway (HAProxy,
deploy/gateway), which holds that request until a replica serves it.

Settings: tests/e2e/values/autoscaling.yaml (KEDA polls every 5 s, 5 s scrapes, a 15 s scale-down window)."""

from __future__ import annotations

import time
from pathlib import Path

import pykube
import pytest
import yaml

from .autoscaling import (
    Watch,
    conditions,
    query,
    reaction_s,
    replica_seconds,
    rule_groups,
    scaled_object,
    scrape_pools,
    seconds_over_slo,
)
from .conftest import Figure
from .kube import ROOT, wait_until
from .release import E2E_VALUES, Release
from .traffic import STREAMING, node_exec, start_load

AUTOSCALING = E2E_VALUES / "autoscaling.yaml"
GATEWAY = ROOT / "deploy" / "gateway" / "haproxy.yaml"
TTFT_SLO_S = 2.0  # the chart's monitoring.prometheusRule.ttftP95SloSeconds
# The step: 32 concurrent streams on pools of 8 sequences per replica (autoscaling.yaml).
STEP = ("--concurrency", "32", "--duration", "30", "--requests", "100000", *STREAMING)
# Under every threshold, so the pool scales in while these stay in flight.
TRICKLE = ("--rate", "2", "--duration", "30", "--requests", "1000", *STREAMING)


def test_the_chart_monitor_is_scraped_and_its_rules_are_loaded(release: Release, figure: Figure) -> None:
    release.install(AUTOSCALING)
    release.wait_serving({"onDemand": 1})
    api, ns = release.api, release.namespace
    # prometheus-operator names a ServiceMonitor's scrape pool serviceMonitor/<ns>/<name>/<endpoint>.
    monitor = f"serviceMonitor/{ns}/{release.name}-vllm-inference/0"
    targets = wait_until(
        "the chart's ServiceMonitor target up",
        lambda: [t for t in scrape_pools(api, ns) if t["scrapePool"] == monitor and t["health"] == "up"],
        90,
        2,
    )
    groups = wait_until(
        "the chart's PrometheusRule groups loaded",
        lambda: [g for g in rule_groups(api) if g["file"].find(f"{ns}-{release.name}-vllm-inference") >= 0],
        90,
        2,
    )
    alerts = sorted(r["name"] for g in groups for r in g["rules"])
    urls, names = [t["scrapeUrl"] for t in targets], [g["name"] for g in groups]
    figure(f"scraped by {monitor}: {urls}; rule groups {names}")
    assert {t["labels"]["app_kubernetes_io_component"] for t in targets} == {"pool-on-demand"}
    assert "VLLMKVCacheHigh" in alerts or any(a.startswith("VLLM") for a in alerts), alerts


@pytest.mark.serial  # 3 of the on-demand node's 4 GPUs: beside other scenarios it would wait for room
def test_a_load_step_scales_the_pool_out_and_back_in_with_no_failed_request(
    node_client: Path, release: Release, figure: Figure
) -> None:
    release.install(AUTOSCALING)
    release.wait_serving({"onDemand": 1})
    watch = Watch(release, "onDemand").start()
    # Before the step Prometheus scrapes the pool (until then its series are absent, an error: KEDA's
    # fallback may have added a replica, which the HPA takes back once the series are there).
    watch.wait_for(
        "the pool scraped, at 1 replica", lambda s: s.waiting is not None and s.replicas == s.ready == 1, 150
    )
    step = start_load(release.service_url, *STEP)
    load_start = step.started - watch.started
    out = watch.wait_for("an extra replica Ready", lambda s: s.ready >= 2, 90)
    peak = max((s.waiting or 0) for s in watch.samples if s.t >= load_start)
    step_report = step.result()
    step_end = load_start + step_report["wall_s"]
    # The queue while the step still ran on the grown pool.
    at_end = [s for s in watch.samples if out.t + 5 <= s.t <= step_end]
    # The step is over: a light load stays in flight while the pool scales back in.
    trickle = start_load(release.service_url, *TRICKLE)
    back = watch.wait_for("scale-in to 1 replica", lambda s: s.replicas == s.ready == 1, 120)
    trickle_report = trickle.result()
    samples = watch.stop()
    reaction = reaction_s(samples, load_start, 1)
    peak_replicas = max(s.replicas for s in samples)
    figure(f"reaction: chart-e2e {reaction} s (load start -> a second replica Ready); peak {peak_replicas}")
    figure(f"queue: peak {peak:.0f} waiting, {min((s.waiting or 0) for s in at_end):.0f} on the grown pool")
    figure(f"time over the TTFT SLO ({TTFT_SLO_S} s): {seconds_over_slo(step_report, TTFT_SLO_S):.0f} s")
    figure(f"replica-seconds {replica_seconds(samples)}; 1 replica {back.t - step_end:.0f} s after the step")
    figure(f"step: {step_report['summary']}")
    figure(f"scale-in: {trickle_report['summary']}")
    assert reaction is not None and peak >= 8
    assert min((s.waiting or 0) for s in at_end) < peak  # the metrics fall once the replicas serve
    assert (step_report["lost"], trickle_report["lost"]) == (0, 0), (
        step_report["errors"],
        trickle_report["errors"],
    )


def fallback_case(release: Release, figure: Figure, label: str, *sets: str) -> None:
    release.install(AUTOSCALING, sets=sets)
    release.wait_serving({"onDemand": 1})
    name = f"{release.name}-vllm-inference-on-demand"

    def fell_back() -> dict[str, object] | None:
        so = scaled_object(release.api, release.namespace, name)
        return so if conditions(so).get("Fallback") == "True" else None

    start = time.monotonic()
    so = wait_until(f"{label}: the ScaledObject's Fallback condition", fell_back, 120, 2)
    release.wait_serving({"onDemand": 2}, timeout_s=120)
    health = so.get("status", {}).get("health", {})
    figure(f"{label}: fallback after {time.monotonic() - start:.0f} s, 2 replicas held; health {health}")
    assert all(h.get("status") == "Failing" for h in health.values()), health
    # It holds: an error is never read as 0 (which would leave the pool at its minimum of 1).
    time.sleep(10)  # two more polls
    assert release.deployment("onDemand").obj["spec"]["replicas"] == 2


def test_prometheus_unreachable_is_an_error_and_keda_holds_the_fallback_replicas(
    release: Release, figure: Figure
) -> None:
    # This release's Prometheus is down: the address answers nothing (the Prometheus pod, a port it does not
    # serve), as KEDA sees a Prometheus whose pod is gone. The cluster's Prometheus stays up for the others.
    fallback_case(
        release,
        figure,
        "prometheus down",
        "keda.serverAddress=http://prometheus-operated.monitoring.svc:9091",
    )


def test_a_broken_scrape_is_an_error_and_the_fallback_not_a_silent_zero(
    release: Release, figure: Figure
) -> None:
    # No monitor: Prometheus scrapes nothing of the release, so every vLLM series is absent.
    fallback_case(release, figure, "series absent", "monitoring.monitor.kind=none")


def gateway_manifests(backend: str) -> list[dict[str, object]]:
    docs = [d for d in yaml.safe_load_all(GATEWAY.read_text()) if d]
    for d in docs:
        if d["kind"] == "Deployment":
            (container,) = d["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
            container["env"] = [{"name": "BACKEND", "value": backend}]
    return docs


def test_a_pool_at_zero_wakes_on_its_first_request_through_the_gateway(
    node_client: Path, release: Release, figure: Figure, tmp_path: Path
) -> None:
    ns = release.namespace
    # The gateway first: the wake query must read 0, not nothing (an error, and the fallback's replicas).
    for doc in gateway_manifests(f"{release.name}-vllm-inference.{ns}.svc.cluster.local:8000"):
        doc["metadata"]["namespace"] = ns  # type: ignore[index]
        pykube.object_factory(release.api, doc["apiVersion"], doc["kind"])(release.api, doc).create()  # type: ignore[arg-type]
    wake = f'sum(haproxy_backend_current_sessions{{namespace="{ns}",proxy="vllm"}})'
    wait_until("the gateway's series in Prometheus", lambda: query(release.api, wake) is not None, 150, 2)
    values = tmp_path / "wake.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "pools": {"onDemand": {"minReplicas": 0}},
                "keda": {"cooldownPeriod": 10},
                "autoscaling": {"triggers": {"wake": {"enabled": True, "query": wake}}},
            }
        )
    )
    release.install(AUTOSCALING, values)
    wait_until(
        "the pool at zero",
        lambda: (
            release.deployment("onDemand").obj["spec"].get("replicas") == 0 and not release.pods("onDemand")
        ),
        120,
        2,
    )
    gw = pykube.Service.objects(release.api, namespace=ns).get(name="vllm-gateway").obj["spec"]["clusterIP"]
    start = time.monotonic()
    out = node_exec(
        "curl", "-sS", "-m", "120", "-o", "/dev/stdout", "-w", "\n%{http_code}",
        "-H", "Content-Type: application/json",
        "-d", '{"model": "Qwen/Qwen2.5-0.5B-Instruct", "prompt": "Wake up.", "max_tokens": 8}',
        f"http://{gw}:8080/v1/completions",
        timeout_s=130,
    )  # fmt: skip
    took = time.monotonic() - start
    body, _, code = out.stdout.rpartition("\n")
    figure(f"woken from zero by its first request through the gateway: HTTP {code} after {took:.1f} s")
    assert code == "200", (out.stdout, out.stderr)
    assert '"choices"' in body
    assert release.deployment("onDemand").obj["spec"]["replicas"] >= 1

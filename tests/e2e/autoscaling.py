"""Watching an autoscaled release (tests/e2e/test_autoscaling.py and benchmarks/autoscaling_bench.py): the
cluster's Prometheus (hack/cluster/addons.sh) read through the API server's service proxy, a ScaledObject's
state, a timeline of one pool sampled every second (replicas asked for, Ready, the pool's KV-cache usage and
the release's queue as Prometheus has them), and the figures the issue asks for: reaction time (load start to
an extra replica Ready), time over the TTFT SLO, replica-seconds, failed requests."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

import pykube

from .release import POOLS, Release

# The Prometheus of the local cluster: the operator's governing Service (the chart's default serverAddress).
PROMETHEUS_PROXY = "namespaces/monitoring/services/http:prometheus-operated:web/proxy"


def prometheus_get(api: pykube.HTTPClient, path: str, **params: str) -> Any:
    """GET a Prometheus API path (e.g. /api/v1/query) through the API server; its `data`, failing on error."""
    url = f"{PROMETHEUS_PROXY}{path}" + (f"?{urlencode(params)}" if params else "")
    r = api.get(url=url, version="v1")
    api.raise_for_status(r)
    body = r.json()
    assert body.get("status") == "success", body
    return body["data"]


def query(api: pykube.HTTPClient, expr: str) -> float | None:
    """An instant query's single value, None when the result is empty."""
    result = prometheus_get(api, "/api/v1/query", query=expr)["result"]
    return float(result[0]["value"][1]) if result else None


def scrape_pools(api: pykube.HTTPClient, namespace: str) -> list[dict[str, Any]]:
    """Prometheus's active targets in `namespace`: the scrape pools the ServiceMonitors/PodMonitors made."""
    targets = prometheus_get(api, "/api/v1/targets", state="active")["activeTargets"]
    return [t for t in targets if t["labels"].get("namespace") == namespace]


def rule_groups(api: pykube.HTTPClient) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = prometheus_get(api, "/api/v1/rules")["groups"]
    return groups


def scaled_object(api: pykube.HTTPClient, namespace: str, name: str) -> dict[str, Any]:
    kind = pykube.object_factory(api, "keda.sh/v1alpha1", "ScaledObject")
    obj: dict[str, Any] = kind.objects(api, namespace=namespace).get(name=name).obj
    return obj


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}


def selector(release: Release, pool: str) -> str:
    return (
        f'namespace="{release.namespace}",app_kubernetes_io_instance="{release.name}",'
        f'app_kubernetes_io_component="{POOLS[pool]}"'
    )


@dataclass
class Sample:
    t: float  # seconds since the watch began
    replicas: int  # the Deployment's spec.replicas: what the autoscaler asks for (GPUs held)
    ready: int  # Ready pods of the pool
    kv: float | None  # avg(vllm:kv_cache_usage_perc) of the pool, as Prometheus has it
    waiting: float | None  # sum(vllm:num_requests_waiting) of the release


@dataclass
class Watch:
    """Samples one pool every `interval_s` in a background thread until stopped."""

    release: Release
    pool: str
    interval_s: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Watch:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        return self.samples

    def now(self) -> float:
        return time.monotonic() - self.started

    def _run(self) -> None:
        api, sel = self.release.api, selector(self.release, self.pool)
        kv_q = f"avg(vllm:kv_cache_usage_perc{{{sel}}})"
        waiting_q = (
            f'sum(vllm:num_requests_waiting{{namespace="{self.release.namespace}",'
            f'app_kubernetes_io_instance="{self.release.name}"}})'
        )
        while not self._stop.is_set():
            t = self.now()
            try:
                dep = self.release.deployment(self.pool)
                replicas = int(dep.obj["spec"].get("replicas") or 0)
                ready = len(self.release.ready_pods(self.pool))
                kv, waiting = query(api, kv_q), query(api, waiting_q)
            except (pykube.exceptions.HTTPError, OSError, ValueError):
                time.sleep(self.interval_s)  # an API hiccup: the next sample covers it
                continue
            self.samples.append(Sample(round(t, 2), replicas, ready, kv, waiting))
            self._stop.wait(max(0.0, self.interval_s - (self.now() - t)))

    def wait_for(self, what: str, fn: Any, timeout_s: float) -> Sample:
        """Until a sample satisfies fn(sample); that sample."""
        deadline = time.monotonic() + timeout_s
        seen = len(self.samples)
        while time.monotonic() < deadline:
            for s in self.samples[seen:]:
                if fn(s):
                    return s
            seen = len(self.samples)
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last {self.samples[-3:]}")


def reaction_s(samples: list[Sample], load_start: float, initial_ready: int) -> float | None:
    """Load start to the first extra replica Ready; None when the pool never grew."""
    for s in samples:
        if s.t >= load_start and s.ready > initial_ready:
            return round(s.t - load_start, 1)
    return None


def replica_seconds(samples: list[Sample]) -> float:
    """Integral of the replicas asked for (GPUs held) over the timeline."""
    return round(sum(a.replicas * (b.t - a.t) for a, b in itertools.pairwise(samples)), 1)


def scale_outs(samples: list[Sample]) -> int:
    return sum(b.replicas > a.replicas for a, b in itertools.pairwise(samples))


def _ttft_or_inf(request: dict[str, Any]) -> float:
    """A request's TTFT; a failed request (or one with no first token) counts as infinitely late."""
    ttft: float = request["ttft_s"] if request["ok"] and request["ttft_s"] is not None else math.inf
    return ttft


def requests_over_slo(report: dict[str, Any], slo_s: float) -> int:
    """Requests of the load whose TTFT exceeded the SLO; a failed request counts as over it."""
    return sum(_ttft_or_inf(r) > slo_s for r in report["requests"])


def seconds_over_slo(report: dict[str, Any], slo_s: float, bucket_s: float = 1.0) -> float:
    """Seconds of the load (buckets of request starts) whose p95 TTFT exceeds the SLO; a failed request
    counts as over it."""
    buckets: dict[int, list[float]] = {}
    for r in report["requests"]:
        buckets.setdefault(int(r["start_s"] // bucket_s), []).append(_ttft_or_inf(r))
    over = 0
    for values in buckets.values():
        values.sort()
        if values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)] > slo_s:
            over += 1
    return over * bucket_s


def timeline_json(samples: list[Sample]) -> str:
    return json.dumps([asdict(s) for s in samples])

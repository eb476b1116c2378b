"""Autoscaling side by side on the local cluster's real KEDA and Prometheus (docs/autoscaling.md): the same
gradual ramp of traffic, at the same time, on one release per configuration, each in its own namespace:

  - chart:       the chart's KEDA defaults (triggers, thresholds, polling, fallback) with its scale-down
                 behaviour on a 1:10 clock (60 s window, one pod per 30 s) so scale-in shows within the run;
  - recipe:      the blog recipe's own ScaledObject, applied as the recipe writes it (a raw manifest: the
                 chart refuses these values): avg(vllm:gpu_cache_usage_perc), threshold "70", unscoped;
  - queue-peer:  a queue-only trigger, sum(vllm:num_requests_waiting) threshold 5, cooldownPeriod 360 s,
                 KEDA's defaults otherwise, as a peer chart ships it (a raw manifest);
  - derived:     the chart's configuration with the KEDA thresholds and max-num-seqs `vllm-plan capacity`
                 derives from one replica of the same deployment, measured first under the bench's request
                 shape and TTFT SLO (benchmarks/autoscaling_derived.py, docs/capacity.md; --no-derived
                 skips it).

A configuration is a small record (name, chart values, an optional raw ScaledObject): adding one is a few
lines in CONFIGS. Each release is the on-demand pool alone, 1..3 replicas of a deployment that saturates on
its KV cache (64 blocks of 16 tokens, as a 7-8B model on an L4 does at a longer context) while its 0.5B model
keeps the simulator's CPU cost within this machine's two cores. The load is Poisson arrivals whose rate rises
linearly from --ramp-from to --ramp-to requests/s over --ramp-s (a peak building up, which an autoscaler can
follow only if it asks for a replica before the current ones saturate), then a trickle (2 requests/s) while
the pools may scale in. Figures per configuration: reaction time (load start to an extra replica Ready),
seconds over the TTFT SLO (5-s windows of request starts whose p95 TTFT exceeds it), requests over it,
replica-seconds, failed requests; printed as a table and as
`reaction: <config> <seconds>`, written with the timelines to build/reports/autoscaling.{json,md} and plotted
(replicas, KV usage, queue depth, TTFT over time) to build/reports/autoscaling.png (and
docs/img/autoscaling.png, which the README shows).

    python benchmarks/autoscaling_bench.py [--kubeconfig build/cluster/kubeconfig] [--ramp-s 420]

Run by `make bench-autoscaling` (part of `make bench`), which brings the local cluster up with room for the
four releases (VLLM_LOCAL_GPUS=12) and down after. Nothing is asserted; a run that cannot install fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykube
import yaml

from vllm_plan.chart_values import deep_merge

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.autoscaling import (  # noqa: E402
    Sample,
    Watch,
    reaction_s,
    replica_seconds,
    requests_over_slo,
    scale_outs,
    seconds_over_slo,
)
from tests.e2e.release import Release  # noqa: E402
from tests.e2e.traffic import STREAMING, Load, start_load  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from autoscaling_derived import (  # noqa: E402
    ONE_REPLICA,
    TTFT_SLO_S,
    deployment,
    derived_values,
    time_scale,
)

REPORTS = ROOT / "build" / "reports"
DOC_PLOT = ROOT / "docs" / "img" / "autoscaling.png"
# The simulated GPU runs TIME_SCALE (3) times slower than its model (benchmarks/autoscaling-deployment.yaml),
# so that two cores stream every token of four releases; rates are given in model time (wall = model /
# scale), latencies reported in model time (model = wall / scale), so the figures read as they would on the
# GPU. Pod start-up and KEDA's polling are wall time: on this clock the autoscaler is that much quicker than
# on a real GPU, alike for every configuration.
TIME_SCALE = time_scale()
WALL_SLO_S = TTFT_SLO_S * TIME_SCALE
# The SLO is judged per window of request starts: a window whose p95 TTFT exceeds it counts as over. 5 s of
# wall time holds 5-50 requests of the ramp (a p95 of two or three requests would be one request's noise).
SLO_WINDOW_S = 5.0
TRICKLE_RPS = 2.0  # model time, after the ramp
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"

# Every release: the on-demand pool alone on the real node, 1..3 replicas.
BASE = {
    "pools": {
        "onDemand": {"replicas": None, "minReplicas": 1, "maxReplicas": 3},
        "spot": {"enabled": False, "replicas": None},
    },
    "monitoring": {"monitor": {"kind": "serviceMonitor", "interval": "5s"}},
}
# The compared releases: the bench's deployment (a replica that saturates on its KV cache, so the cache usage
# is the early signal it is on a real GPU; benchmarks/autoscaling-deployment.yaml).
COMPARED = deep_merge(BASE, deployment())
# The faults' releases (autoscaling_faults.py): 8 sequences per replica at time scale 1.
FAULTS = deep_merge(BASE, {"vllm": {"maxNumSeqs": 8}})


def deployment_of(release: Release) -> str:
    return f"{release.name}-vllm-inference-on-demand"


def raw_scaled_object(release: Release, name: str, query: str, threshold: str, **spec: Any) -> dict[str, Any]:
    """A ScaledObject as recipes write one: one Prometheus trigger, KEDA's defaults unless `spec` says."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": release.namespace},
        "spec": {
            "scaleTargetRef": {"name": deployment_of(release)},
            "minReplicaCount": 1,
            "maxReplicaCount": 3,
            **spec,
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {"serverAddress": PROMETHEUS, "query": query, "threshold": threshold},
                }
            ],
        },
    }


def recipe_scaled_object(release: Release) -> dict[str, Any]:
    """The recipe's ScaledObject as it is written: removed metric, percent threshold, no label matcher."""
    return raw_scaled_object(release, "vllm-recipe", "avg(vllm:gpu_cache_usage_perc)", "70")


def queue_peer_scaled_object(release: Release) -> dict[str, Any]:
    """A queue-only trigger as a peer chart defaults to: threshold 5, cooldown 360 s, KEDA's defaults else."""
    query = f'sum(vllm:num_requests_waiting{{namespace="{release.namespace}"}})'
    return raw_scaled_object(release, "vllm-queue", query, "5", pollingInterval=15, cooldownPeriod=360)


@dataclass
class Config:
    """One configuration: chart values over values/local-sim.yaml + COMPARED, optionally a raw ScaledObject
    applied next to a release without an autoscaler of its own (autoscaling.mode none)."""

    name: str
    values: dict[str, Any]
    manifest: Callable[[Release], dict[str, Any]] | None = None


CONFIGS = [
    Config(
        "chart",
        {
            "autoscaling": {
                "mode": "keda",
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": 60,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}],
                        "selectPolicy": "Min",
                    }
                },
            }
        },
    ),
    Config(
        "recipe",
        {"autoscaling": {"mode": "none"}, "pools": {"onDemand": {"replicas": 1}}},
        recipe_scaled_object,
    ),
    Config(
        "queue-peer",
        {"autoscaling": {"mode": "none"}, "pools": {"onDemand": {"replicas": 1}}},
        queue_peer_scaled_object,
    ),
]


@dataclass
class Run:
    config: Config
    release: Release
    watch: Watch | None = None
    ramp: Load | None = None
    trickle: Load | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    load_start: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


def install_release(api: pykube.HTTPClient, kubeconfig: str, name: str, values: dict[str, Any]) -> Release:
    """A release `sim` of the chart in a new namespace bench-<name>-<hex> with these values over local-sim."""
    ns = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    pykube.Namespace(api, {"metadata": {"name": ns}}).create()
    release = Release(api, kubeconfig, ns)
    path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".yaml")[1])
    path.write_text(yaml.safe_dump(values))
    release.install(path)
    return release


def remove_release(release: Release) -> None:
    release.uninstall()
    pykube.Namespace(release.api, {"metadata": {"name": release.namespace}}).delete()


def install(api: pykube.HTTPClient, kubeconfig: str, config: Config) -> Run:
    release = install_release(api, kubeconfig, config.name, deep_merge(COMPARED, config.values))
    if config.manifest:
        obj = config.manifest(release)
        pykube.object_factory(api, obj["apiVersion"], obj["kind"])(api, obj).create()
    return Run(config, release)


def measure(run: Run, samples: list[Sample]) -> dict[str, Any]:
    ramp, trickle = run.reports
    reaction = reaction_s(samples, run.load_start, 1)
    return {
        "reaction_s": reaction,
        "scale_outs": scale_outs(samples),
        "max_replicas": max(s.replicas for s in samples),
        "final_replicas": samples[-1].replicas,
        "seconds_over_slo": sum(seconds_over_slo(r, WALL_SLO_S, SLO_WINDOW_S) for r in (ramp, trickle)),
        "requests_over_slo": sum(requests_over_slo(r, WALL_SLO_S) for r in (ramp, trickle)),
        "replica_seconds": replica_seconds(samples),
        "failed": ramp["lost"] + trickle["lost"],
        "sent": ramp["sent"] + trickle["sent"],
        "ramp": ramp["summary"],
        "trickle": trickle["summary"],
    }


def ttft_points(run: Run) -> list[tuple[float, float]]:
    """(seconds on the watch's clock, TTFT in model time) of every answered request."""
    assert run.watch is not None
    points = []
    for load, report in zip((run.ramp, run.trickle), run.reports, strict=True):
        assert load is not None
        base = load.started - run.watch.started
        answered = [r for r in report["requests"] if r["ok"] and r["ttft_s"]]
        points += [(base + r["start_s"], r["ttft_s"] / TIME_SCALE) for r in answered]
    return points


def offered_load(run: Run, bucket_s: float = 10.0) -> tuple[list[float], list[float]]:
    """(bucket start since the ramp began, requests started per second in model time) of `run`'s loads."""
    assert run.watch is not None
    counts: dict[int, int] = {}
    for load, report in zip((run.ramp, run.trickle), run.reports, strict=True):
        assert load is not None
        base = load.started - run.watch.started - run.load_start
        for r in report["requests"]:
            key = int((base + r["start_s"]) // bucket_s)
            counts[key] = counts.get(key, 0) + 1
    keys = sorted(counts)
    return [k * bucket_s for k in keys], [counts[k] / bucket_s * TIME_SCALE for k in keys]


def plot(runs: list[Run], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    for run in runs:
        assert run.watch is not None
        s = run.watch.samples
        t = [x.t - run.load_start for x in s]
        axes[0].step(t, [x.replicas for x in s], where="post", label=run.config.name)
        axes[1].plot(t, [x.kv if x.kv is not None else float("nan") for x in s], label=run.config.name)
        axes[2].plot(
            t, [x.waiting if x.waiting is not None else float("nan") for x in s], label=run.config.name
        )
        pts = ttft_points(run)
        axes[3].scatter([p[0] - run.load_start for p in pts], [p[1] for p in pts], s=3, label=run.config.name)
    axes[3].axhline(TTFT_SLO_S, color="red", linestyle="--", linewidth=1, label=f"SLO {TTFT_SLO_S:g} s")
    axes[3].set_ylim(0, TTFT_SLO_S * 6)  # the SLO's neighbourhood; a pool that never scales goes far above
    offered = axes[0].twinx()
    offered.plot(*offered_load(runs[0]), color="grey", linestyle=":", label="offered load")
    offered.set_ylabel("offered load (req/s, model time)", color="grey")
    for ax, label in zip(
        axes,
        ("replicas (asked for)", "KV-cache usage (avg, 0-1)", "requests waiting (sum)", "TTFT (model s)"),
        strict=True,
    ):
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right")
    axes[3].legend(loc="upper right", markerscale=4)
    axes[3].set_xlabel("seconds since the ramp began")
    names = ", ".join(run.config.name for run in runs)
    fig.suptitle(f"KEDA on the local cluster, side by side: {names}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def table(runs: list[Run]) -> str:
    lines = [
        "| configuration | reaction (s) | scale-outs | max replicas | time over TTFT SLO (s) "
        "| requests over TTFT SLO | replica-seconds | failed requests |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        f = r.figures
        reaction = "never" if f["reaction_s"] is None else f"{f['reaction_s']:.0f}"
        lines.append(
            f"| {r.config.name} | {reaction} | {f['scale_outs']} | {f['max_replicas']} | "
            f"{f['seconds_over_slo']:.0f} | {f['requests_over_slo']} | {f['replica_seconds']:.0f} | "
            f"{f['failed']} of {f['sent']} |"
        )
    return "\n".join(lines)


def derived_config(api: pykube.HTTPClient, kubeconfig: str) -> Config:
    """The fourth configuration: the chart's, with what `vllm-plan capacity` derives from one replica of the
    bench's deployment (its ramp's report in build/reports/capacity/)."""
    capacity = install_release(api, kubeconfig, "capacity", deep_merge(COMPARED, ONE_REPLICA))
    try:
        capacity.wait_serving({"onDemand": 1}, timeout_s=240)
        derived = derived_values(capacity, REPORTS / "capacity")
    finally:
        remove_release(capacity)
    print(f"derived: {json.dumps(derived)}", flush=True)
    return Config("derived", deep_merge(CONFIGS[0].values, derived))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", default=str(ROOT / "build" / "cluster" / "kubeconfig"))
    p.add_argument("--ramp-s", type=float, default=420, help="seconds of the rising load")
    p.add_argument("--ramp-from", type=float, default=2, help="requests/s (model time) at the ramp's start")
    p.add_argument("--ramp-to", type=float, default=26, help="requests/s (model time) at its end: 3 replicas")
    p.add_argument("--trickle-s", type=float, default=90, help="seconds of light load after the ramp")
    p.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True, help="then the faults")
    p.add_argument(
        "--derived",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add the configuration vllm-plan capacity derives (a ramp of one replica first, ~2 min)",
    )
    args = p.parse_args()
    api = pykube.HTTPClient(pykube.KubeConfig.from_file(args.kubeconfig))
    configs = [*CONFIGS, derived_config(api, args.kubeconfig)] if args.derived else list(CONFIGS)
    runs = [install(api, args.kubeconfig, c) for c in configs]
    try:
        for run in runs:
            run.release.wait_serving({"onDemand": 1}, timeout_s=240)
        for run in runs:
            run.watch = Watch(run.release, "onDemand").start()
        # Each release's series in Prometheus before the ramp (scraped, not absent).
        for run in runs:
            run.watch.wait_for(
                f"{run.config.name}: series in Prometheus", lambda s: s.waiting is not None, 90
            )
        time.sleep(10)  # a quiet baseline on the plot
        rates = ("--rate", str(args.ramp_from / TIME_SCALE), "--ramp-to", str(args.ramp_to / TIME_SCALE))
        ramp_args = (*rates, "--arrival", "poisson", "--duration", str(args.ramp_s), "--requests", "1000000")
        for run in runs:
            run.ramp = start_load(run.release.service_url, *ramp_args, *STREAMING)
            run.load_start = run.ramp.started - run.watch.started
        for run in runs:
            run.reports.append(run.ramp.result(timeout_s=args.ramp_s + 120))
        trickle = str(TRICKLE_RPS / TIME_SCALE)
        trickle_args = ("--rate", trickle, "--duration", str(args.trickle_s), "--requests", "1000000")
        for run in runs:
            run.trickle = start_load(run.release.service_url, *trickle_args, *STREAMING)
        for run in runs:
            run.reports.append(run.trickle.result(timeout_s=args.trickle_s + 120))
        time.sleep(5)
        for run in runs:
            run.figures = measure(run, run.watch.stop())
    finally:
        for run in runs:
            if run.watch:
                run.watch.stop()
            remove_release(run.release)
    REPORTS.mkdir(parents=True, exist_ok=True)
    md = table(runs)
    print(md)
    for run in runs:
        f = run.figures
        if f["reaction_s"] is None:
            duration = run.watch.samples[-1].t - run.load_start if run.watch and run.watch.samples else 0
            print(f"reaction: {run.config.name} never ({f['scale_outs']} scale-outs in {duration:.0f} s)")
        else:
            print(f"reaction: {run.config.name} {f['reaction_s']:.0f}")
        print(f"{run.config.name}: ramp {f['ramp']}")
        print(f"{run.config.name}: trickle {f['trickle']}")
    (REPORTS / "autoscaling.md").write_text(md + "\n")
    (REPORTS / "autoscaling.json").write_text(
        json.dumps(
            {
                r.config.name: {
                    **r.figures,
                    "timeline": [vars(s) for s in (r.watch.samples if r.watch else [])],
                    "load_start": r.load_start,
                }
                for r in runs
            },
            indent=1,
        )
    )
    plot(runs, REPORTS / "autoscaling.png")
    DOC_PLOT.parent.mkdir(parents=True, exist_ok=True)
    DOC_PLOT.write_bytes((REPORTS / "autoscaling.png").read_bytes())
    written = [REPORTS / f"autoscaling.{ext}" for ext in ("md", "json", "png")] + [DOC_PLOT]
    print("wrote " + ", ".join(str(w) for w in written))
    if args.faults:
        from autoscaling_faults import run_all

        def fault_release(name: str, values: dict[str, Any]) -> Release:
            return install_release(api, args.kubeconfig, name, values)

        chart = deep_merge(FAULTS, CONFIGS[0].values)
        run_all(api, fault_release, remove_release, chart, REPORTS / "autoscaling-faults.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

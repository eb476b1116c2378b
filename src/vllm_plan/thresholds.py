"""The chart values a capacity ramp derives at its knee, in the chart's keys and units.

* `autoscaling.triggers.kvCacheUsage.threshold` (a fraction 0-1; the chart's query is the pool's mean
  `vllm:kv_cache_usage_perc`, metricType Value: desired = ceil(replicas x mean / threshold)): the mean KV
  usage one replica shows at `target_utilization` of its knee throughput (interpolated between the held
  steps), so the pool adds a replica before any replica reaches its knee: the headroom covers the minutes a
  new replica takes to come up. Divided by 1 + the HPA's tolerance (below), so the HPA acts at that usage.
  A usage that rounds below KEDA's resolution derives no KV threshold: the trigger is disabled (the cache
  is not what saturates that replica) and the queue trigger scales it.
* `autoscaling.triggers.requestsWaiting.threshold` (queued requests per replica; the chart's query sums
  `vllm:num_requests_waiting` over the release, metricType AverageValue: desired = ceil(sum / threshold)):
  the mean queue one replica holds at its knee over 1 + the HPA's tolerance, rounded up to a half, and at
  least 1: a queue longer than that per replica means the replicas are past their knee. (The queue query
  is instantaneous; below one request per replica it would scale on every burst.)
* `vllm.maxNumSeqs`: the most requests the replica ran at once at its knee (vllm:num_requests_running's
  peak): beyond it requests queue, which the queue trigger sees, instead of slowing every running one.
* `autoscaling.maxReplicas` (with a peak rate): ceil(peak / (knee throughput x target_utilization)),
  at least `min_replicas`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from vllm_plan.ramp import Ramp, Step

# KEDA turns every trigger threshold and every metric value into a Kubernetes quantity with 3 decimals
# (KEDA v2 pkg/scalers/scaler.go, quantityFromFloat64: fmt.Sprintf("%.3f", v)): a threshold under 0.0005
# becomes 0, the HPA KEDA builds has no target, and the pool never scales on ANY of its triggers; one finer
# than 0.001 is not the threshold asked for. The chart refuses thresholds below this resolution
# (values.schema.json `minimum`, its own check for --set strings); a test holds the schema to this figure.
KEDA_DECIMALS = 3
KEDA_RESOLUTION = 10.0**-KEDA_DECIMALS

# KV thresholds keep two significant figures (a small model on a big card runs at a few 0.1 % of its cache),
# but never finer than KEDA's resolution.
KV_SIGNIFICANT = 2


def keda_reads(value: float) -> float:
    """`value` as KEDA hands it to the HPA: rounded to its resolution."""
    return round(value, KEDA_DECIMALS)


def _kv_threshold(usage: float) -> float | None:
    """Two significant figures of `usage`, at most KEDA's decimals; None when that rounds below KEDA's
    resolution (a threshold KEDA would turn into 0)."""
    if usage <= 0:
        return None
    decimals = min(KEDA_DECIMALS, KV_SIGNIFICANT - 1 - math.floor(math.log10(usage)))
    threshold = min(1.0, round(usage, decimals))
    return threshold if threshold >= KEDA_RESOLUTION else None


# The HPA KEDA drives changes nothing while usage / threshold stays within 1 +- this (kube-controller-
# manager's --horizontal-pod-autoscaler-tolerance, 0.1 unless the cluster sets it): t acts at t x 1.1.
HPA_TOLERANCE = 0.1

# Each replica planned at this share of its knee unless the traffic profile or a flag says otherwise (the
# example traffic profile's target_utilization too).
DEFAULT_TARGET_UTILIZATION = 0.8


@dataclass(frozen=True)
class Derived:
    knee_requests_per_s: float
    target_utilization: float
    kv_cache_usage_at_target: float  # mean KV usage at target_utilization of the knee
    kv_cache_usage_threshold: float | None  # None: below KEDA's resolution, the KV trigger is off
    requests_waiting_threshold: float
    max_num_seqs: int
    peak_requests_per_s: float | None = None
    max_replicas: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def kv_trigger_off(self) -> str | None:
        """Why no KV threshold was derived (one line); None when one was."""
        if self.kv_cache_usage_threshold is not None:
            return None
        usage = self.kv_cache_usage_at_target
        fraction = f"{usage:.6f}".rstrip("0").rstrip(".")
        return (
            f"KV-cache usage at {self.target_utilization:.0%} of the knee is {usage * 100:.2g} % "
            f"({fraction}): below KEDA's {KEDA_RESOLUTION:g} resolution, so the cache is not what saturates "
            "this replica; the KV trigger is off and the queue trigger scales it"
        )


def kv_usage_at(held: list[Step], rate: float) -> float:
    """Mean KV usage at throughput `rate`, interpolated linearly between the held steps around it (from
    zero below the lowest; the highest's above it)."""
    points = sorted(((s.throughput, s.mean_kv_usage) for s in held), key=lambda p: p[0])
    below = (0.0, 0.0)
    for point in points:
        if point[0] >= rate:
            span = point[0] - below[0]
            share = (rate - below[0]) / span if span > 0 else 1.0
            return below[1] + (point[1] - below[1]) * share
        below = point
    return below[1]


def derive(
    ramp: Ramp, target_utilization: float, peak_rps: float | None = None, min_replicas: int = 1
) -> Derived | None:
    """The values at `ramp`'s knee; None when no step held the SLO."""
    knee = ramp.knee
    if knee is None:
        return None
    kv = kv_usage_at(ramp.held(), knee.throughput * target_utilization)
    replicas = None
    if peak_rps is not None:
        replicas = max(min_replicas, math.ceil(peak_rps / (knee.throughput * target_utilization)))
    return Derived(
        knee_requests_per_s=round(knee.throughput, 3),
        target_utilization=target_utilization,
        kv_cache_usage_at_target=round(kv, 6),
        kv_cache_usage_threshold=_kv_threshold(kv / (1 + HPA_TOLERANCE)),
        requests_waiting_threshold=max(1.0, math.ceil(knee.mean_waiting / (1 + HPA_TOLERANCE) * 2) / 2),
        max_num_seqs=max(1, math.ceil(knee.max_running)),
        peak_requests_per_s=peak_rps,
        max_replicas=replicas,
    )


def values(derived: Derived) -> dict[str, Any]:
    """The chart values tree: KEDA on both triggers (the KV one off when no KV threshold was derived), the
    derived thresholds and max-num-seqs."""
    autoscaling: dict[str, Any] = {"mode": "keda"}
    if derived.max_replicas is not None:
        autoscaling["maxReplicas"] = derived.max_replicas
    kv = derived.kv_cache_usage_threshold
    autoscaling["triggers"] = {
        "kvCacheUsage": {"enabled": False} if kv is None else {"enabled": True, "threshold": kv},
        "requestsWaiting": {"enabled": True, "threshold": derived.requests_waiting_threshold},
    }
    return {
        "vllm": {"maxNumSeqs": derived.max_num_seqs},
        # The autoscaler owns each pool's count: a fixed `replicas` (refused under KEDA) is unset (null).
        "pools": {"onDemand": {"replicas": None}, "spot": {"replicas": None}},
        "autoscaling": autoscaling,
    }


def values_snippet(derived: Derived, header: str) -> str:
    """YAML for `helm install -f`: `header` as comment lines (and why the KV trigger is off, when it is),
    then the values."""
    lines = header.splitlines() + [line for line in (derived.kv_trigger_off(),) if line]
    comments = "".join(f"# {line}\n" for line in lines)
    return comments + yaml.safe_dump(values(derived), sort_keys=False)


@dataclass(frozen=True)
class Triggers:
    """A configuration's thresholds to compare: KV usage (pool mean, Value) and waiting requests per
    replica (sum, AverageValue); None: that trigger is absent."""

    name: str
    kv_cache_usage: float | None
    requests_waiting: float | None


def asks_for_more(step: Step, triggers: Triggers) -> bool:
    """Whether one replica showing `step`'s mean gauges makes the HPA ask for a second (KEDA's formulas:
    Value desired = ceil(replicas x mean / threshold), AverageValue desired = ceil(sum / threshold), applied
    once usage / threshold is beyond the HPA's tolerance; the gauges as KEDA reads them, to its resolution).
    A None threshold: that trigger is absent."""
    kv, waiting = triggers.kv_cache_usage, triggers.requests_waiting
    return bool(
        (kv is not None and keda_reads(step.mean_kv_usage) / kv > 1 + HPA_TOLERANCE)
        or (waiting is not None and keda_reads(step.mean_waiting) / waiting > 1 + HPA_TOLERANCE)
    )


def scale_out_load(ramp: Ramp, triggers: Triggers) -> float | None:
    """The lowest load of the ramp at which one replica asks for a second; None: none did."""
    return next((s.load for s, _ in ramp.by_load() if asks_for_more(s, triggers)), None)


def parse_triggers(text: str) -> Triggers:
    """NAME=KV,WAITING (a `-` for an absent trigger), e.g. `chart=0.7,4` or `peer=-,5`; a threshold below
    KEDA's resolution is refused, as the chart refuses it."""
    name, _, pair = text.partition("=")
    parts = pair.split(",")
    if not name or len(parts) != 2:
        raise ValueError(f"expected NAME=KV,WAITING (a - for an absent trigger), got {text!r}")

    def number(part: str) -> float | None:
        if part.strip() == "-":
            return None
        value = float(part)
        if not value >= KEDA_RESOLUTION:
            raise ValueError(
                f"a threshold must be at least {KEDA_RESOLUTION:g} (KEDA rounds thresholds to "
                f"{KEDA_DECIMALS} decimals: below that it becomes 0 and the pool never scales), "
                f"got {part!r} in {text!r}"
            )
        return value

    return Triggers(name, number(parts[0]), number(parts[1]))

"""A capacity run rendered: the step table (measured and predicted side by side), one JSON object, and
the header of the values snippet."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vllm_plan.capacity_plot import write_capacity_chart
from vllm_plan.ramp import Ramp, Step
from vllm_plan.scrape import KV_USAGE
from vllm_plan.thresholds import Derived, Triggers, scale_out_load, values, values_snippet


@dataclass(frozen=True)
class CapacityRun:
    """What `vllm-plan capacity` found: a measured ramp, a predicted one, or both, and the derived values."""

    target: str  # the endpoint measured, or "-"
    model: str
    mix: str  # where the requests came from
    mean_input_tokens: int
    mean_output_tokens: int
    time_scale: float
    kv_metric: str | None  # the KV-cache gauge the target exposes
    measured: Ramp | None
    predicted: Ramp | None
    predicted_gpu: str | None
    derived: Derived | None
    derived_from: str  # "measured" or "predicted"
    seconds: float  # wall seconds the whole run took
    compare: tuple[Triggers, ...] = ()  # other configurations' thresholds, held against the same ramp
    # Mean prompt tokens per request as the measured target counted them (a chat template's included), the
    # length the predicted ramp replays; None without a measurement or the counter.
    served_input_tokens: int | None = None

    def comparison(self) -> list[dict[str, Any]]:
        """For the derived thresholds and each compared configuration: the lowest load of the ramp at which
        one replica asks for a second (KEDA's formulas on the step's mean gauges), against the knee."""
        ramp, knee = self.basis, self.basis.knee
        configs = list(self.compare)
        if self.derived is not None:
            d = self.derived
            configs.insert(0, Triggers("derived", d.kv_cache_usage_threshold, d.requests_waiting_threshold))
        out = []
        for t in configs:
            load = scale_out_load(ramp, t)
            asks = f"asks for a second replica at load {load:.3g}" if load is not None else ""
            if load is None:
                verdict = "never asks for a second replica within the ramp"
            elif knee is not None and load <= knee.load:
                verdict = f"{asks}, within the SLO (knee at {knee.load:.3g})"
            else:
                verdict = f"{asks}, past the knee: the SLO broke first"
            at = None if load is None else round(load, 6)  # as the steps are written
            out.append({**asdict(t), "scale_out_load": at, "verdict": verdict})
        return out

    @property
    def basis(self) -> Ramp:
        ramp = self.measured if self.derived_from == "measured" else self.predicted
        assert ramp is not None
        return ramp


def _step_json(step: Step, missed: list[str]) -> dict[str, Any]:
    def figure(value: object) -> object:
        """Floats to 6 places; a percentile of no answered request (infinite) as null: JSON has no inf."""
        if isinstance(value, float):
            return round(value, 6) if math.isfinite(value) else None
        return value

    return {
        **{k: figure(v) for k, v in asdict(step).items()},
        "missed": missed,
    }


def _ramp_json(ramp: Ramp | None) -> dict[str, Any] | None:
    if ramp is None:
        return None
    knee = ramp.knee
    return {
        "kind": ramp.kind,
        "stopped": ramp.stopped,
        "knee": None if knee is None else _step_json(knee, []),
        "steps": [_step_json(s, m) for s, m in zip(ramp.steps, ramp.missed, strict=True)],
    }


def capacity_json(run: CapacityRun) -> dict[str, Any]:
    slo = run.basis.slo
    return {
        "target": run.target,
        "model": run.model,
        "requests": {
            "source": run.mix,
            "mean_input_tokens": run.mean_input_tokens,
            "served_input_tokens": run.served_input_tokens,
            "mean_output_tokens": run.mean_output_tokens,
        },
        "slo": asdict(slo),
        "time_scale": run.time_scale,
        "kv_cache_metric": run.kv_metric,
        "measured": _ramp_json(run.measured),
        "predicted": _ramp_json(run.predicted),
        "predicted_gpu": run.predicted_gpu,
        "derived_from": run.derived_from,
        "derived": None if run.derived is None else run.derived.to_dict(),
        "values": None if run.derived is None else values(run.derived),
        "comparison": run.comparison(),
        "seconds": round(run.seconds, 1),
    }


def _row(label: str, step: Step, missed: list[str], knee: Step | None) -> list[str]:
    mark = "knee" if step is knee else ("held" if not missed else "MISSED: " + "; ".join(missed))
    return [
        label,
        f"{step.load:.3g}",
        f"{step.throughput:.3g}",
        f"{step.output_tokens_per_s:.0f}",
        f"{step.ttft_s:.3g}",
        f"{step.itl_s * 1e3:.3g}",
        f"{step.mean_running:.1f}/{step.max_running:.0f}",
        f"{step.mean_waiting:.2f}/{step.max_waiting:.0f}",
        f"{step.mean_kv_usage:.4f}",
        mark,
    ]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _served(run: CapacityRun) -> str:
    """How many prompt tokens the server counted per request, where that differs from the mix's."""
    served = run.served_input_tokens
    if served is None or served == run.mean_input_tokens:
        return ""
    replayed = "; the prediction replays prompts of that length" if run.predicted is not None else ""
    return f" ({served} in as the server counted them, its template and special tokens included{replayed})"


def capacity_text(run: CapacityRun) -> str:
    slo = run.basis.slo
    key = f"p{slo.percentile}"
    scale = run.time_scale
    scaled = f"; times in model seconds (VLLM_SIM_TIME_SCALE {scale:g})" if scale != 1 else ""
    itl_ms = slo.inter_token_latency_s * 1e3
    lines = [
        f"Capacity of one replica: {run.model} at {run.target}"
        + (f", predicted on {run.predicted_gpu}" if run.predicted_gpu else ""),
        f"Requests: {run.mix}; about {run.mean_input_tokens} tokens in, {run.mean_output_tokens} out"
        + _served(run),
        f"SLO: {key} TTFT <= {slo.time_to_first_token_s:g} s, {key} ITL <= {itl_ms:g} ms{scaled}",
        "",
    ]
    unit = "req/s" if run.basis.kind == "rate" else "in flight"
    header = [
        "run",
        f"load {unit}",
        "served req/s",
        "tok/s",
        f"{key} TTFT s",
        f"{key} ITL ms",
        "running avg/max",
        "waiting avg/max",
        "KV avg",
        "",
    ]
    rows = [header]
    for name, ramp in (("measured", run.measured), ("predicted", run.predicted)):
        if ramp is not None:
            rows += [_row(name, s, m, ramp.knee) for s, m in ramp.by_load()]
    lines += _table(rows)
    lines.append("")
    for name, ramp in (("measured", run.measured), ("predicted", run.predicted)):
        if ramp is not None:
            knee = ramp.knee
            found = f"knee at {knee.throughput:.3g} requests/s" if knee else "no step held the SLO"
            lines.append(f"{name}: {found} ({len(ramp.steps)} steps; stopped: {ramp.stopped})")
    if run.derived is not None:
        d = run.derived
        lines += [
            f"derived from the {run.derived_from} knee ({d.knee_requests_per_s:g} requests/s per replica, "
            f"planned at {d.target_utilization:.0%}):",
            f"  autoscaling.triggers.kvCacheUsage.enabled       false  ({off})"
            if (off := d.kv_trigger_off())
            else f"  autoscaling.triggers.kvCacheUsage.threshold     {d.kv_cache_usage_threshold:g}"
            f"  (mean {run.kv_metric or KV_USAGE[0]} at {d.target_utilization:.0%} of the knee)",
            f"  autoscaling.triggers.requestsWaiting.threshold  {d.requests_waiting_threshold:g}"
            "  (queued requests per replica at the knee)",
            f"  vllm.maxNumSeqs                                 {d.max_num_seqs}  (peak running at the knee)",
        ]
        if d.max_replicas is not None:
            lines.append(
                f"  autoscaling.maxReplicas                         {d.max_replicas}"
                f"  (peak {d.peak_requests_per_s:g} requests/s)"
            )
    comparison = run.comparison()
    if comparison:
        lines.append(f"thresholds held against the {run.derived_from} ramp (one replica, KEDA's formulas):")
        lines += [
            f"  {c['name']} (kvCacheUsage {c['kv_cache_usage'] if c['kv_cache_usage'] is not None else '-'}, "
            f"requestsWaiting {c['requests_waiting'] if c['requests_waiting'] is not None else '-'}): "
            f"{c['verdict']}"
            for c in comparison
        ]
    lines.append(f"took {run.seconds:.0f} s")
    return "\n".join(lines) + "\n"


def capacity_snippet(run: CapacityRun) -> str | None:
    """The values snippet (YAML for `helm install -f`), None when nothing was derived."""
    slo, d = run.basis.slo, run.derived
    if d is None:
        return None
    key = f"p{slo.percentile}"
    header = (
        f"vllm-plan capacity: {run.model} at {run.target} ({run.derived_from}), knee "
        f"{d.knee_requests_per_s:g} requests/s per replica\n"
        f"holding {key} TTFT <= {slo.time_to_first_token_s:g} s and {key} ITL <= "
        f"{slo.inter_token_latency_s * 1e3:g} ms; about {run.mean_input_tokens} tokens in, "
        f"{run.mean_output_tokens} out"
    )
    return values_snippet(d, header)


def write_report(out: Path, run: CapacityRun) -> list[Path]:
    """capacity.txt, capacity.json, capacity.png and (when derived) values-snippet.yaml under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "capacity.txt", out / "capacity.json", out / "capacity.png"]
    written[0].write_text(capacity_text(run))
    written[1].write_text(json.dumps(capacity_json(run), indent=2) + "\n")
    ramps = {name: r for name, r in (("measured", run.measured), ("predicted", run.predicted)) if r}
    on = f" (predicted on {run.predicted_gpu})" if run.predicted_gpu else ""
    write_capacity_chart(written[2], f"{run.model}: one replica{on}", ramps)
    snippet = capacity_snippet(run)
    if snippet is not None:
        written.append(out / "values-snippet.yaml")
        written[3].write_text(snippet)
    return written

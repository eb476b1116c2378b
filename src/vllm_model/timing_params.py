"""The timing model's parameter table (`catalog/timing.yaml`): load it, look a GPU up, write it back.

Few parameters, each with a physical meaning: per GPU the weight-streaming efficiency and the API
server's time (a GPU without calibration takes its generation's, else the calibrated mean); per
interconnect the all-reduce latency per peer; for the model as a whole the per-step overhead, the share of
the GEMMs' math that shows beside the weight stream, and the eager-attention cost per layer.
`benchmarks/fidelity_bench.py` fits them to real measurements and writes them here with `dump`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from vllm_model.catalog import load_gpus

TIMING_FILE = Path(__file__).parent / "catalog" / "timing.yaml"


@dataclass(frozen=True)
class GpuTiming:
    weight_bandwidth_efficiency: float  # fraction of spec HBM bandwidth reached streaming weights
    api_server_ms: float  # per request, on TTFT and E2E


@dataclass(frozen=True)
class TimingParams:
    step_overhead_ms: float
    gemm_exposed_fraction: float  # of the shorter of a step's weight streaming and its GEMM math
    eager_layer_us: float
    prefill_compute_efficiency: float
    link_bandwidth_gbps: dict[str, float]
    gpus: dict[str, GpuTiming]
    peer_latency_us: dict[str, float]  # per interconnect
    default_gpu: GpuTiming
    default_peer_latency_us: float
    header: str = field(default="", compare=False)

    def gpu(self, key: str) -> GpuTiming:
        """A calibrated GPU's parameters; else the mean of its generation's calibrated GPUs; else defaults."""
        if key in self.gpus:
            return self.gpus[key]
        gpus = load_gpus()
        arch = gpus[key].architecture if key in gpus else ""
        kin = [g for k, g in self.gpus.items() if arch and k in gpus and gpus[k].architecture == arch]
        if not kin:
            return self.default_gpu
        return GpuTiming(
            weight_bandwidth_efficiency=sum(g.weight_bandwidth_efficiency for g in kin) / len(kin),
            api_server_ms=sum(g.api_server_ms for g in kin) / len(kin),
        )

    def latency_us(self, interconnect: str) -> float:
        return self.peer_latency_us.get(interconnect, self.default_peer_latency_us)

    def link_bandwidth(self, interconnect: str) -> float:
        """Bytes/s of one GPU's link (PCIe 4.0 where the interconnect is unknown)."""
        return self.link_bandwidth_gbps.get(interconnect, self.link_bandwidth_gbps["pcie4"]) * 1e9

    def with_values(self, **changes: Any) -> TimingParams:
        return replace(self, **changes)

    def dump(self) -> str:
        """timing.yaml for these values, under the loaded file's header comment."""

        def flow(d: dict[str, Any]) -> str:
            return "{" + ", ".join(f"{k}: {_num(v)}" for k, v in d.items()) + "}"

        lines = [
            "fixed:",
            f"  prefill_compute_efficiency: {_num(self.prefill_compute_efficiency)}",
            f"  link_bandwidth_gbps: {flow(self.link_bandwidth_gbps)}",
            "model:",
            f"  step_overhead_ms: {_num(self.step_overhead_ms)}",
            f"  gemm_exposed_fraction: {_num(self.gemm_exposed_fraction)}",
            f"  eager_layer_us: {_num(self.eager_layer_us)}",
            "gpus:",
            *(f"  {key}: {flow(vars(self.gpus[key]))}" for key in sorted(self.gpus)),
            "interconnects:",
            *(
                f"  {k}: {flow({'peer_latency_us': self.peer_latency_us[k]})}"
                for k in sorted(self.peer_latency_us)
            ),
            "defaults:",
            f"  gpu: {flow(vars(self.default_gpu))}",
            f"  interconnect: {flow({'peer_latency_us': self.default_peer_latency_us})}",
        ]
        return self.header + "\n".join(lines) + "\n"


def _num(value: float) -> str:
    return f"{value:.4g}"


def parse(text: str) -> TimingParams:
    data = yaml.safe_load(text)
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    fixed, model, defaults = data["fixed"], data["model"], data["defaults"]
    return TimingParams(
        step_overhead_ms=float(model["step_overhead_ms"]),
        gemm_exposed_fraction=float(model["gemm_exposed_fraction"]),
        eager_layer_us=float(model["eager_layer_us"]),
        prefill_compute_efficiency=float(fixed["prefill_compute_efficiency"]),
        link_bandwidth_gbps={k: float(v) for k, v in fixed["link_bandwidth_gbps"].items()},
        gpus={k: GpuTiming(**v) for k, v in (data.get("gpus") or {}).items()},
        peer_latency_us={
            k: float(v["peer_latency_us"]) for k, v in (data.get("interconnects") or {}).items()
        },
        default_gpu=GpuTiming(**defaults["gpu"]),
        default_peer_latency_us=float(defaults["interconnect"]["peer_latency_us"]),
        header=header,
    )


@cache
def load_timing_params() -> TimingParams:
    return parse(TIMING_FILE.read_text(encoding="utf-8"))

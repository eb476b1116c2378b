"""Fit the timing model's few physical parameters to the calibration set, never a row.

The fit asks the timing model (vllm_model.timing, the code replay runs) what each measured stage should
have taken at the concurrency the measurement itself implies (Little's law: running = rate x mean E2E),
so it needs no simulation and runs in a second:

    decode step  d  = step_seconds(N decodes of context prompt + (output - 1) / 2)
    prefill step d' = the same batch with one arrival's uncached prompt tail (its last partial block)
    ITL  = d / (1 - rate x (d' - d))         (one arrival's prefill step in every 1 / (rate x ITL) steps)
    TTFT = api + 1.5 ITL + d' + cold         (half a step to the next schedule, async scheduling's step,
                                              the prefill; `cold`: stage 0's first pass over the prompts)
    E2E  = TTFT + (output - 1) x ITL

with the spec's output length (what the server generated: `ignore_eos`), and minimises the relative
errors of E2E and TTFT (Huber-weighted, so a few odd rows do not steer it) by Levenberg-Marquardt over:
per GPU weight_bandwidth_efficiency and api_server_ms, per interconnect peer_latency_us, and
step_overhead_ms, gemm_exposed_fraction, eager_layer_us for the model. The data's ITL column is not a
target: it divides by the client's re-tokenized count of the output, not by what the server generated.
A GPU or an interconnect the training rows lack takes the mean of the fitted ones (an unseen PCIe link
keeps the physical default), which is what a GPU without calibration data gets in timing.yaml.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from fidelity_data import GROUPS, MAX_NUM_SEQS, PROMPTS_PER_GROUP, PROTOCOL, Experiment

from vllm_model.catalog import get_gpu
from vllm_model.timing import TimingModel
from vllm_model.timing_params import GpuTiming, TimingParams

BLOCK = 16
TTFT_WEIGHT = 0.7  # E2E has the tightest target
HUBER = 0.08  # relative errors beyond this count linearly, not squared
BOUNDS = {
    "weight_bandwidth_efficiency": (0.3, 1.0),
    "api_server_ms": (0.0, 40.0),
    "peer_latency_us": (0.0, 100.0),
    "step_overhead_ms": (0.0, 10.0),
    "gemm_exposed_fraction": (0.0, 1.0),
    "eager_layer_us": (0.0, 400.0),
}


@dataclass(frozen=True)
class StageRow:
    exp: Experiment
    stage: int
    ttft_ms: float
    itl_ms: float
    e2e_ms: float


def stage_rows(experiments: list[Experiment]) -> list[StageRow]:
    return [
        StageRow(e, int(o.stage), o.ttft_ms, o.itl_ms, o.e2e_ms)
        for e in experiments
        for o in e.rows
        if o.stage != "summary"
    ]


def predict(row: StageRow, params: TimingParams) -> tuple[float, float]:
    """(TTFT ms, E2E ms) the timing model gives the stage at its measured concurrency."""
    exp = row.exp
    model, gpu, plan = exp.server()
    tm = TimingModel.build(model, gpu, plan, params)
    stage = exp.stages[row.stage]
    n = max(1.0, min(MAX_NUM_SEQS, stage.rate * row.e2e_ms / 1e3))
    prompt, out = exp.prompt_tokens, exp.output_tokens(PROTOCOL)
    context = prompt + (out - 1) / 2
    decode = tm.step_seconds(n, n * (context + 1), n * (context + 1), n)
    tail = prompt - BLOCK * ((prompt - 1) // BLOCK)  # the last partial block: never a prefix-cache hit
    others = (n - 1) * (context + 1)
    prefill = tm.step_seconds(n - 1 + tail, others + tail * (prompt - tail / 2), others + prompt, n)
    busy = min(0.9, stage.rate * (prefill - decode))
    itl = decode / (1 - busy)
    cold = 0.0
    if row.stage == 0:
        requests = stage.rate * stage.duration
        share = min(1.0, GROUPS * PROMPTS_PER_GROUP / requests)
        fresh = prompt - exp.prefix_tokens
        chunk = max(1, exp.max_num_batched_tokens - int(n))
        first = min(fresh, chunk)
        cold_step = tm.step_seconds(n - 1 + first, others + first * first / 2, others + first, n)
        extra_chunks = math.ceil(fresh / chunk) - 1
        cold = share * (cold_step - prefill + extra_chunks * cold_step)
    ttft = tm.api_seconds + 1.5 * itl + prefill + cold
    return ttft * 1e3, (ttft + (out - 1) * itl) * 1e3


# -- the parameter vector -----------------------------------------------------------------------------
def _family(interconnect: str) -> str:
    return re.sub(r"\d+$", "", interconnect)


@dataclass(frozen=True)
class Layout:
    """Which entries of the vector are which parameter."""

    gpus: tuple[str, ...]
    interconnects: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        names = ["step_overhead_ms", "gemm_exposed_fraction", "eager_layer_us"]
        for g in self.gpus:
            names += [f"{g}:weight_bandwidth_efficiency", f"{g}:api_server_ms"]
        names += [f"{i}:peer_latency_us" for i in self.interconnects]
        return names

    def vector(self, p: TimingParams) -> np.ndarray:
        values = [p.step_overhead_ms, p.gemm_exposed_fraction, p.eager_layer_us]
        for g in self.gpus:
            values += [p.gpu(g).weight_bandwidth_efficiency, p.gpu(g).api_server_ms]
        values += [p.latency_us(i) for i in self.interconnects]
        return np.array(values, dtype=float)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        pairs = [BOUNDS[name.split(":")[-1]] for name in self.names]
        return np.array([lo for lo, _ in pairs]), np.array([hi for _, hi in pairs])

    def params(self, x: np.ndarray, base: TimingParams) -> TimingParams:
        """TimingParams with these values; unseen GPUs and interconnects take the fitted means."""
        k = 3
        gpus = {}
        for g in self.gpus:
            gpus[g] = GpuTiming(weight_bandwidth_efficiency=float(x[k]), api_server_ms=float(x[k + 1]))
            k += 2
        latencies = {i: float(x[k + j]) for j, i in enumerate(self.interconnects)}
        default_gpu = GpuTiming(
            weight_bandwidth_efficiency=float(
                np.mean([g.weight_bandwidth_efficiency for g in gpus.values()])
            ),
            api_server_ms=float(np.mean([g.api_server_ms for g in gpus.values()])),
        )
        for name in base.link_bandwidth_gbps:
            if name not in latencies:
                kin = [v for i, v in latencies.items() if _family(i) == _family(name)]
                if kin:
                    latencies[name] = float(np.mean(kin))
        return base.with_values(
            step_overhead_ms=float(x[0]),
            gemm_exposed_fraction=float(x[1]),
            eager_layer_us=float(x[2]),
            gpus=gpus,
            peer_latency_us=latencies,
            default_gpu=default_gpu,
        )


def _residuals(
    rows: list[StageRow], layout: Layout, base: TimingParams
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(x: np.ndarray) -> np.ndarray:
        p = layout.params(x, base)
        out = []
        for row in rows:
            ttft, e2e = predict(row, p)
            out += [e2e / row.e2e_ms - 1, TTFT_WEIGHT * (ttft / row.ttft_ms - 1)]
        return np.array(out)

    return fn


def _huber_weights(r: np.ndarray) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= HUBER, 1.0, np.sqrt(HUBER / np.maximum(a, 1e-12)))


def fit(experiments: list[Experiment], base: TimingParams, iterations: int = 40) -> TimingParams:
    """Least-squares (Huber) fit of the parameters to the experiments' stage rows."""
    rows = stage_rows(experiments)
    layout = Layout(
        gpus=tuple(sorted({e.gpu_key for e in experiments})),
        interconnects=tuple(sorted({get_gpu(e.gpu).interconnect for e in experiments if e.tp > 1})),
    )
    lo, hi = layout.bounds()
    x = np.clip(layout.vector(base), lo, hi)
    resid = _residuals(rows, layout, base)
    lam = 1e-2
    r = resid(x)
    for _iteration in range(iterations):
        w = _huber_weights(r)
        jac = np.empty((len(r), len(x)))
        for j in range(len(x)):
            h = 1e-4 * max(1.0, abs(x[j]))
            probe = x.copy()
            probe[j] += h
            jac[:, j] = (resid(probe) - r) / h
        a, g = (jac * w[:, None] ** 2).T @ jac, (jac * w[:, None] ** 2).T @ r
        cost = np.sum((w * r) ** 2)
        for _attempt in range(8):
            dx = -np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-9), g)
            trial = np.clip(x + dx, lo, hi)
            rt = resid(trial)
            if np.sum((_huber_weights(rt) * rt) ** 2) < cost:
                x, r, lam = trial, rt, lam * 0.3
                break
            lam *= 10
        else:
            break  # no step lowers the cost: a minimum
    return layout.params(x, base)

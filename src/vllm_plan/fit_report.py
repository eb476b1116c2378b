"""Renders a FitReport: a table for people, one JSON object for scripts, a snippet for the chart values."""

from __future__ import annotations

from typing import Any

import yaml

from vllm_model.catalog import GIB
from vllm_plan.sizing import FitReport


def fit_json(report: FitReport) -> dict[str, Any]:
    m = report.memory
    return {
        "fits": m.fits,
        "reason": m.reason,
        "error_type": m.error_type,
        "model": m.model,
        "gpu": m.gpu,
        "gpu_memory_bytes": m.gpu_memory_bytes,
        "dtype": m.dtype,
        "quantization": m.quantization,
        "tensor_parallel_size": m.tensor_parallel_size,
        "max_model_len": m.max_model_len,
        "gpu_memory_utilization": m.gpu_memory_utilization,
        "block_size": m.block_size,
        "weights_bytes": m.weights_bytes,
        "overhead_bytes": m.overhead_bytes,
        "kv_budget_bytes": m.kv_budget_bytes,
        "kv_bytes_per_token": m.kv_bytes_per_token,
        "kv_blocks": m.num_blocks,
        "kv_tokens": m.kv_tokens,
        "context_length": report.context_length,
        "sequences_at_context": report.sequences_at_context,
        "max_num_seqs": m.max_num_seqs,
        "max_num_seqs_recommended": report.max_num_seqs_recommended,
        "warnings": list(report.warnings),
    }


def _gib(n: int) -> str:
    return f"{n / GIB:.2f} GiB"


def fit_text(report: FitReport) -> str:
    m, r = report.memory, report.request
    at_context = report.sequences_at_context
    seqs = "unbounded (no KV cache)" if at_context is None else str(at_context)
    per_token = f"{m.kv_bytes_per_token / 1024:g} KiB" if m.kv_bytes_per_token else "0 (no KV cache)"
    rows = [
        ("dtype / quantization", f"{m.dtype} / {m.quantization or 'none'}"),
        ("tensor-parallel size", str(m.tensor_parallel_size)),
        ("max-model-len", str(m.max_model_len)),
        ("GPU memory", _gib(m.gpu_memory_bytes)),
        ("x gpu-memory-utilization", f"{m.gpu_memory_utilization:g} -> {_gib(m.budget_bytes)}"),
        ("- weights (per GPU)", _gib(m.weights_bytes)),
        ("- activations, CUDA graphs, context", _gib(m.overhead_bytes)),
        ("= KV-cache budget", _gib(m.kv_budget_bytes)),
        ("KV bytes per token", per_token),
        ("KV token capacity", f"{m.kv_tokens} ({m.num_blocks} blocks of {m.block_size})"),
        (f"sequences at context {report.context_length}", seqs),
        ("max-num-seqs", f"{m.max_num_seqs} ({'set' if r.max_num_seqs else 'vLLM default'})"),
        ("recommended max-num-seqs", str(report.max_num_seqs_recommended or "-")),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{m.model} on {m.gpu} x{m.tensor_parallel_size}"]
    lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    lines.append("FITS" if m.fits else f"DOES NOT FIT: {m.error}")
    lines += [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"


def fit_values_snippet(report: FitReport) -> str:
    """The sizing keys of the chart's values.yaml (same names), filled with what was planned."""
    m = report.memory
    model: dict[str, Any] = {"name": report.request.model, "maxModelLen": m.max_model_len, "dtype": m.dtype}
    if report.request.quantization:
        model["quantization"] = report.request.quantization
    vllm: dict[str, Any] = {
        "tensorParallelSize": m.tensor_parallel_size,
        "gpuMemoryUtilization": m.gpu_memory_utilization,
    }
    if report.max_num_seqs_recommended:
        vllm["maxNumSeqs"] = report.max_num_seqs_recommended
    values = {"model": model, "gpu": {"type": m.gpu}, "vllm": vllm}
    verdict = "fits" if m.fits else f"DOES NOT FIT ({m.reason})"
    header = f"# vllm-plan: {m.model} on {m.gpu}: {verdict}; {m.kv_tokens} KV tokens\n"
    return header + yaml.safe_dump(values, sort_keys=False)

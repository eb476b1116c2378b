"""Flags every `vllm-plan` subcommand shares, defined once: the deployment (chart, values file, vLLM
settings) and the output format, plus the bounded number types argparse checks them with."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from vllm_model.catalog import dtype_choices, load_gpus
from vllm_model.memory import DEFAULT_BLOCK_SIZE, DEFAULT_GPU_MEMORY_UTILIZATION
from vllm_plan.chart_source import CHART_ENV, chart_defaults, chart_ref
from vllm_plan.chart_values import Values, deep_merge
from vllm_plan.request import PlanRequest, request_from_values
from vllm_plan.yaml_input import load_yaml_mapping

Number = TypeVar("Number", int, float)


def bounded(
    parse: Callable[[str], Number], low: Number, high: Number | None, wanted: str
) -> Callable[[str], Number]:
    """An argparse `type=` that parses with `parse` and checks low <= value (<= high)."""

    def check(text: str) -> Number:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {wanted}: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a {wanted}, got {value}")
        return value

    return check


positive_int = bounded(int, 1, None, "positive integer")
fraction = bounded(float, 0.0, 1.0, "number between 0 and 1")
non_negative = bounded(float, 0.0, None, "number >= 0")


def deployment_flags() -> argparse.ArgumentParser:
    """A parent parser: the deployment to plan, from the chart, a values file and vLLM's flags."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(
        "deployment (flags override the values file, which overrides the chart)"
    )
    group.add_argument(
        "--chart",
        type=Path,
        metavar="PATH",
        help=f"chart directory or packaged chart (.tgz) whose values.yaml the values file is read over "
        f"(default: ${CHART_ENV})",
    )
    group.add_argument(
        "--values",
        type=Path,
        metavar="FILE",
        action="append",
        help="chart values file (e.g. values/l4.yaml); repeat it to layer files as helm's -f does",
    )
    group.add_argument("--model", help="catalogue id/alias, local model directory or config.json path")
    group.add_argument("--gpu", help=f"GPU type: {', '.join(load_gpus())}")
    group.add_argument("--gpu-count", type=positive_int, help="GPUs per replica (default: the TP size)")
    group.add_argument("--max-model-len", type=positive_int, help="--max-model-len (default: the model's)")
    group.add_argument("--dtype", help=f"--dtype: {', '.join(dtype_choices())} (default auto)")
    group.add_argument("--quantization", help="--quantization: awq, gptq, fp8, ...")
    group.add_argument("--tensor-parallel-size", type=positive_int, help="--tensor-parallel-size (1)")
    group.add_argument(
        "--gpu-memory-utilization",
        type=fraction,
        help=f"--gpu-memory-utilization ({DEFAULT_GPU_MEMORY_UTILIZATION})",
    )
    group.add_argument("--max-num-seqs", type=positive_int, help="--max-num-seqs to check (vLLM's default)")
    group.add_argument("--block-size", type=positive_int, help=f"--block-size (default {DEFAULT_BLOCK_SIZE})")
    group.add_argument(
        "--num-gpu-blocks-override",
        type=positive_int,
        help="--num-gpu-blocks-override: KV-cache blocks whatever the memory leaves (values: vllm.extraArgs)",
    )
    return parent


def output_flags() -> argparse.ArgumentParser:
    """A parent parser: the table (default), one JSON object, or chart values to paste."""
    parent = argparse.ArgumentParser(add_help=False)
    out = parent.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    out.add_argument("--values-snippet", action="store_true", help="YAML to paste into the chart values")
    return parent


def print_output(
    args: argparse.Namespace,
    document: Callable[[], Any],
    snippet: Callable[[], str],
    table: Callable[[], str],
) -> None:
    """Print what the output flags chose: one JSON object (--json), chart values (--values-snippet) or the
    table; only the chosen one is rendered."""
    if args.json:
        print(json.dumps(document(), indent=2))
    elif args.values_snippet:
        print(snippet(), end="")
    else:
        print(table(), end="")


def _values(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[Values, str]:
    """The values tree `helm install [-f FILE]` would see, and what to name it by in errors."""
    ref = chart_ref(args.chart, env)
    values: Values = chart_defaults(ref) if ref else {}
    if not args.values:
        return values, f"{ref.named_by} {ref.path}" if ref else "flags"
    files = ", ".join(str(f) for f in args.values)
    if ref is None:
        print(
            f"vllm-plan: warning: reading {files} without the chart's defaults; pass --chart PATH "
            f"(chart directory or .tgz) or set {CHART_ENV}",
            file=sys.stderr,
        )
    for path in args.values:  # later files win, as with helm install -f A -f B
        values = deep_merge(values, load_yaml_mapping(path, "--values"))
    return values, files


def request_from_args(
    args: argparse.Namespace, env: Mapping[str, str] = os.environ, **extra: int | None
) -> PlanRequest:
    """The deployment the shared flags describe; `extra` are a subcommand's own PlanRequest settings."""
    values, where = _values(args, env)
    return request_from_values(values, where).overridden(
        model=args.model,
        gpu=args.gpu,
        gpu_count=args.gpu_count,
        max_model_len=args.max_model_len,
        dtype=args.dtype,
        quantization=args.quantization,
        tensor_parallel_size=args.tensor_parallel_size,
        gpu_memory_utilization=args.gpu_memory_utilization,
        max_num_seqs=args.max_num_seqs,
        block_size=args.block_size,
        num_gpu_blocks_override=args.num_gpu_blocks_override,
        **extra,
    )

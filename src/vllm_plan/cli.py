"""`vllm-plan`: does a model fit a GPU under vLLM's settings (default); what a day of traffic costs (`cost`).

Exit status: 0 fits / report written, 1 the deployment does not fit, 2 bad flags or input files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from vllm_plan.errors import PlanInputError
from vllm_plan.fit_report import fit_json, fit_text, fit_values_snippet
from vllm_plan.prices import CLOUDS, default_prices_path
from vllm_plan.request import PlanRequest, request_from_values
from vllm_plan.sizing import FitReport, assess
from vllm_plan.traffic import example_traffic_path

DOES_NOT_FIT = 1


def _number(parse: type, low: float, high: float | None, wanted: str):
    """An argparse `type=` that parses with `parse` and checks low <= value (<= high)."""

    def check(text: str) -> float:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {wanted}: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a {wanted}, got {value}")
        return value

    return check


_positive_int = _number(int, 1, None, "positive integer")
_fraction = _number(float, 0.0, 1.0, "number between 0 and 1")
_non_negative = _number(float, 0.0, None, "number >= 0")


def _add_deployment_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("deployment (flags override the values file)")
    group.add_argument("--values", type=Path, metavar="FILE", help="chart values file (e.g. values/l4.yaml)")
    group.add_argument("--model", help="catalogue id/alias, local model directory or config.json path")
    group.add_argument("--gpu", help="GPU type: T4, L4, A10G, A100-80GB, H100-80GB, H200")
    group.add_argument("--gpu-count", type=_positive_int, help="GPUs per replica (default: the TP size)")
    group.add_argument("--max-model-len", type=_positive_int, help="--max-model-len (default: the model's)")
    group.add_argument("--dtype", help="--dtype: auto, half, float16, bfloat16, float32 (default auto)")
    group.add_argument("--quantization", help="--quantization: awq, gptq, fp8, ...")
    group.add_argument("--tensor-parallel-size", type=_positive_int, help="--tensor-parallel-size (1)")
    group.add_argument("--gpu-memory-utilization", type=_fraction, help="--gpu-memory-utilization (0.92)")
    group.add_argument("--max-num-seqs", type=_positive_int, help="--max-num-seqs to check (vLLM's default)")
    group.add_argument("--block-size", type=_positive_int, help="--block-size (default 16)")


def _output_flags(parser: argparse.ArgumentParser) -> None:
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    out.add_argument("--values-snippet", action="store_true", help="YAML to paste into the chart values")


def build_fit_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vllm-plan",
        description="Does a model fit a GPU under vLLM's settings, how big is its KV cache, and how many "
        "sequences fit at the expected context length. `vllm-plan cost --help` plans a day of traffic.",
    )
    _add_deployment_flags(parser)
    parser.add_argument("--context-length", type=_positive_int, help="expected mean tokens per sequence")
    _output_flags(parser)
    return parser


def build_cost_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vllm-plan cost",
        description="Replicas per hour for a day of traffic (from the simulator's timing model) and the "
        "monthly cost of all on-demand, the 70/30 spot/on-demand mix and your own mix.",
    )
    parser.add_argument("--traffic", type=Path, default=example_traffic_path(), help="traffic profile YAML")
    parser.add_argument("--cloud", required=True, choices=CLOUDS, help="cloud whose prices apply")
    parser.add_argument("--prices", type=Path, default=default_prices_path(), help="price table YAML")
    parser.add_argument("--mix", type=_fraction, default=0.5, help="your spot fraction (default 0.5)")
    parser.add_argument(
        "--spot-reclaim-rate", type=_non_negative, default=0.05, help="reclaims per spot replica-hour (0.05)"
    )
    parser.add_argument(
        "--replace-minutes",
        type=_non_negative,
        default=10.0,
        help="minutes a reclaimed replica is missing: new node + model load (10)",
    )
    parser.add_argument("--png", type=Path, help="write the cost/replicas chart here")
    parser.add_argument("--out-dir", type=Path, help="write the whole report (txt, json, png, snippet) here")
    _add_deployment_flags(parser)
    _output_flags(parser)
    return parser


def request_from_args(args: argparse.Namespace) -> PlanRequest:
    base = request_from_values(args.values) if args.values else PlanRequest()
    return base.overridden(
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
        context_length=getattr(args, "context_length", None),
    )


def _print_fit(report: FitReport, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(fit_json(report), indent=2))
    elif args.values_snippet:
        print(fit_values_snippet(report), end="")
    else:
        print(fit_text(report), end="")


def run_fit(argv: Sequence[str]) -> int:
    parser = build_fit_parser()
    args = parser.parse_args(argv)
    try:
        report = assess(request_from_args(args))
    except PlanInputError as exc:
        parser.error(str(exc))
    _print_fit(report, args)
    return 0 if report.fits else DOES_NOT_FIT


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["cost"]:
            from vllm_plan.cost_cli import run_cost

            return run_cost(build_cost_parser(), args[1:])
        return run_fit(args)
    except BrokenPipeError:  # `vllm-plan ... | head`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python's documented recipe)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""`vllm-plan fit`: does a model fit a GPU under vLLM's settings, how big is its KV cache, and how many
sequences fit at the expected context length."""

from __future__ import annotations

import argparse

from vllm_plan.command import DOES_NOT_FIT, OK, Command
from vllm_plan.errors import PlanInputError
from vllm_plan.fit_report import fit_json, fit_text, fit_values_snippet
from vllm_plan.flags import positive_int, print_output, request_from_args
from vllm_plan.sizing import assess


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context-length", type=positive_int, help="expected mean tokens per sequence")


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        report = assess(request_from_args(args, context_length=args.context_length))
    except PlanInputError as exc:
        parser.error(str(exc))
    print_output(args, lambda: fit_json(report), lambda: fit_values_snippet(report), lambda: fit_text(report))
    return OK if report.fits else DOES_NOT_FIT


COMMAND = Command(
    name="fit",
    summary="will a model fit a GPU, how big is its KV cache, how many sequences fit",
    description=__doc__ or "",
    add_arguments=_add_arguments,
    run=_run,
)

"""What a `vllm-plan` subcommand is: a name, its help, the flags it adds and the function that runs it.

Each subcommand is one module under vllm_plan.commands exporting a COMMAND; vllm_plan.cli lists them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from vllm_plan.flags import deployment_flags, output_flags

# Exit status shared by every subcommand: 0 answered (fits / report written), 1 the deployment does not fit,
# 2 bad flags or input (argparse's own status for a usage error).
OK = 0
DOES_NOT_FIT = 1


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # one line in `vllm-plan --help`
    description: str  # the subcommand's own --help
    add_arguments: Callable[[argparse.ArgumentParser], None]
    # Runs the parsed command; reports bad input with parser.error (exit 2).
    run: Callable[[argparse.Namespace, argparse.ArgumentParser], int]
    # Shared parent parsers (vllm_plan.flags) the subcommand takes flags from: by default the deployment
    # (chart, values file, vLLM settings) and the output format, as every planning subcommand needs.
    parents: tuple[Callable[[], argparse.ArgumentParser], ...] = (deployment_flags, output_flags)

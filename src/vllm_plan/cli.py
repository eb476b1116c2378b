"""`vllm-plan SUBCOMMAND [flags]`: one entry point, one module per subcommand (vllm_plan.commands).

A subcommand is required: `vllm-plan --model ...` (the fit check before subcommands existed) is refused
with a message naming `vllm-plan fit`, so a script written for the old form fails loudly instead of
being read as some other subcommand as more arrive.

Exit status: 0 fits / report written, 1 the deployment does not fit, 2 bad flags or input files.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from vllm_plan.command import Command
from vllm_plan.commands import capacity, cost, fit

PROG = "vllm-plan"
COMMANDS: tuple[Command, ...] = (fit.COMMAND, cost.COMMAND, capacity.COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Plan a vLLM deployment: will it fit (fit), what a day of traffic costs (cost), what one "
        "replica sustains and the autoscaling values that follow (capacity). `vllm-plan SUBCOMMAND --help` "
        "lists a subcommand's flags.",
    )
    subcommands = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    for command in COMMANDS:
        sub = subcommands.add_parser(
            command.name,
            help=command.summary,
            description=command.description,
            parents=[make() for make in command.parents],
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run, parser=sub)
    return parser


def _no_subcommand(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Refuse flags without a subcommand, naming the subcommands (argparse alone says much less)."""
    names = ", ".join(f"{c.name} ({c.summary})" for c in COMMANDS)
    hint = f"; for the fit check write `{PROG} fit {' '.join(argv)}`" if argv else ""
    parser.error(f"a subcommand comes first: {names}{hint}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        _no_subcommand(parser, args)
    parsed = parser.parse_args(args)
    try:
        code: int = parsed.run(parsed, parsed.parser)
    except BrokenPipeError:  # `vllm-plan ... | head`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python's documented recipe)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())

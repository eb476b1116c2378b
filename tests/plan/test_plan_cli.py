"""`vllm-plan SUBCOMMAND`: the subcommands, their shared flags, a bare `vllm-plan --flags` refused."""

from __future__ import annotations

import pytest
from plan_paths import SEED_T4

from vllm_plan.cli import COMMANDS


def test_a_bare_fit_invocation_is_refused_naming_every_subcommand_and_the_fit_spelling(plan) -> None:
    run = plan(*SEED_T4)
    assert run.code == 2 and run.out == ""
    assert "usage: vllm-plan" in run.err
    for command in COMMANDS:
        assert f"{command.name} (" in run.err
    assert f"vllm-plan fit {' '.join(SEED_T4)}" in run.err


def test_no_arguments_at_all_is_refused_naming_the_subcommands(plan) -> None:
    run = plan()
    assert run.code == 2
    assert "a subcommand comes first: fit (" in run.err


def test_an_unknown_subcommand_is_refused_by_argparse_with_the_known_ones(plan) -> None:
    run = plan("measure", *SEED_T4)
    assert run.code == 2
    assert "invalid choice: 'measure'" in run.err
    assert all(f"'{name}'" in run.err for name in ("fit", "cost", "capacity"))


def test_top_level_help_lists_each_subcommand(plan) -> None:
    run = plan("--help")
    assert run.code == 0
    for command in COMMANDS:
        assert command.name in run.out and command.summary.split(",")[0] in run.out


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_every_subcommand_takes_the_shared_deployment_and_output_flags(plan, command: str) -> None:
    run = plan(command, "--help")
    assert run.code == 0
    for flag in ("--chart", "--values", "--model", "--gpu", "--max-num-seqs", "--json", "--values-snippet"):
        assert flag in run.out, f"vllm-plan {command} lacks {flag}"


def test_a_subcommand_error_shows_that_subcommands_usage(plan) -> None:
    run = plan("cost", "--cloud", "aws", *SEED_T4, "--mix", "2")
    assert run.code == 2
    assert "usage: vllm-plan cost" in run.err and "error: argument --mix" in run.err


def test_gpu_and_dtype_help_list_what_the_catalogue_knows(plan) -> None:
    from vllm_model.catalog import dtype_choices, load_gpus

    help_text = " ".join(plan("fit", "--help").out.split())
    assert f"GPU type: {', '.join(load_gpus())}" in help_text
    assert f"--dtype: {', '.join(dtype_choices())}" in help_text

"""Helpers for the planner tests: run the real `vllm-plan` CLI in-process and capture what it prints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from vllm_plan.chart_source import CHART_ENV
from vllm_plan.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


@pytest.fixture
def plan(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Call `vllm-plan ARGS...`; argparse errors (SystemExit) become exit codes as in a shell.

    The caller's environment names no chart: a test that wants one passes --chart or sets it itself."""
    monkeypatch.delenv(CHART_ENV, raising=False)

    def run(*argv: str) -> Run:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code=code, out=captured.out, err=captured.err)

    return run

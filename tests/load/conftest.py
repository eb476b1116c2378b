"""Fixtures of the load client's tests: real simulators (load_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from load_helpers import MODEL, SIM_ENV, StartSim

from vllm_sim.launch import SimProcess, launch


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[StartSim]:
    """Start simulators (model first, flags after; env laid over the defaults); all stopped afterwards."""
    started: list[SimProcess] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> SimProcess:
        sim = launch([MODEL, "--max-model-len", "4096", *flags], tmp_path, env={**SIM_ENV, **(env or {})})
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="module")
def shared_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """One fast simulator for the tests that only read what it answers."""
    sim = launch([MODEL, "--max-model-len", "4096"], tmp_path_factory.mktemp("sim"), env=SIM_ENV)
    yield sim
    sim.stop()

"""Fixtures of the load client's tests: real simulator processes on 127.0.0.1 (vllm_sim.launch)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vllm_sim.launch import SimProcess, launch

MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
StartSim = Callable[..., SimProcess]


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[StartSim]:
    """Start simulators (model first, flags after; env laid over the defaults); all stopped afterwards."""
    started: list[SimProcess] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> SimProcess:
        defaults = {"VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": "0.05", "VLLM_SIM_CONTROL": "1"}
        sim = launch([MODEL, "--max-model-len", "4096", *flags], tmp_path, env={**defaults, **(env or {})})
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="module")
def shared_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """One fast simulator for the tests that only read what it answers."""
    env = {"VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": "0.05", "VLLM_SIM_CONTROL": "1"}
    sim = launch([MODEL, "--max-model-len", "4096"], tmp_path_factory.mktemp("sim"), env=env)
    yield sim
    sim.stop()

"""Fixtures for the simulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_helpers import QWEN, SimProcess, start_sim


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """One shared Qwen2.5-0.5B server with control endpoints and an API key."""
    sim = start_sim(
        tmp_path_factory.mktemp("sim"),
        "--max-model-len",
        "4096",
        "--api-key",
        "sekret",
        "--served-model-name",
        QWEN,
        "qwen",
        env={"VLLM_SIM_CONTROL": "1"},
    )
    yield sim
    sim.stop()

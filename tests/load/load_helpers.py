"""Real simulator processes on 127.0.0.1 for the load client's tests (vllm_sim.launch)."""

from __future__ import annotations

from collections.abc import Callable

from vllm_sim.launch import SimProcess

MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
# The simulator's environment in these tests: an L4, 20 times faster than real time, control endpoints on.
SIM_ENV = {"VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": "0.05", "VLLM_SIM_CONTROL": "1"}
StartSim = Callable[..., SimProcess]

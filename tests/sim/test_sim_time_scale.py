"""VLLM_SIM_TIME_SCALE stretches model time only: the simulator's own work is not multiplied into it.

The served simulator sleeps each step's model time x the scale on an ideal timeline, so the time it
spends itself (Python, HTTP, here a deliberately slow step completion) is absorbed into those sleeps
rather than added on top: a request takes scale x its model time on the wall clock, not
scale x model time + the simulator's own overhead per step.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from vllm_model.catalog import get_gpu, resolve_model
from vllm_model.memory import plan_memory
from vllm_model.timing import TimingModel
from vllm_sim.engine import Engine, EngineConfig, Request, Step
from vllm_sim.runner import AsyncEngine

MISTRAL = "mistralai/Mistral-7B-Instruct-v0.2"  # ~60 ms decode steps on an L4
SCALE = 0.1
OWN_WORK_S = 0.002  # per step, a third of a scaled step


def _engine() -> Engine:
    spec, card = resolve_model(MISTRAL), get_gpu("L4")
    plan = plan_memory(spec, card, max_model_len=4096)
    return Engine(EngineConfig.from_plan(plan, TimingModel.build(spec, card, plan)))


async def _one_request(engine: Engine, steps: list[float]) -> float:
    complete = engine.complete

    def slow_complete(step: Step, now: float) -> list[Request]:
        time.sleep(OWN_WORK_S)  # the simulator's own work on this step
        steps.append(step.duration)
        return complete(step, now)

    engine.complete = slow_complete  # type: ignore[method-assign]
    runner = AsyncEngine(engine, SCALE)
    runner.start()
    try:
        req = Request("r", "hello world " * 16, 40, seed=1, ignore_eos=True)
        started = time.monotonic()
        await runner.run_to_end(req)
        return time.monotonic() - started
    finally:
        await runner.stop()


def test_the_time_scale_multiplies_model_time_and_not_the_simulators_own_work() -> None:
    steps: list[float] = []
    wall = asyncio.run(_one_request(_engine(), steps))
    model = sum(steps)
    assert len(steps) == 40
    assert SCALE * model / len(steps) > 2 * OWN_WORK_S  # the scaled steps leave room for the own work
    # Multiplied (or added) it would take SCALE x model + 40 x 2 ms, a third longer.
    assert wall == pytest.approx(SCALE * model, rel=0.1)

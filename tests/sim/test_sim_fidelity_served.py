"""The served simulator and `vllm-sim replay` are one engine: the same workload gives the same mean E2E.

A real `vllm-sim serve` process runs at VLLM_SIM_TIME_SCALE 0.5 (model time runs twice as fast as the wall
clock; the simulator's own HTTP and Python time is not scaled), a client sends the workload's requests at
its arrival times on that clock, and the mean E2E it measures, back in model time, is compared with what
the replay reports for the same flags and workload.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
import yaml
from sim_helpers import QWEN, start_sim

from vllm_sim import replay_cli
from vllm_sim.workload import parse_workload

SCALE = 0.5
FLAGS = ["--max-model-len", "4096", "--max-num-seqs", "64", "--max-num-batched-tokens", "2048"]
WORKLOAD = {
    "seed": 0,
    "stages": [{"rate": 4.0, "duration": 6, "arrival": "constant"}],
    "prompts": {
        "groups": 2,
        "prompts_per_group": 4,
        "prefix_tokens": 64,
        "prompt_tokens": 256,
        "output_tokens": 200,
        "ignore_eos": True,
    },
}


async def _drive(url: str) -> list[float]:
    """Send every request at its arrival time (x SCALE); each one's wall-clock E2E."""
    workload = parse_workload(WORKLOAD)
    texts = workload.prompt_texts()
    start = time.monotonic()

    async def one(session: aiohttp.ClientSession, at: float, text: str) -> float:
        await asyncio.sleep(max(0.0, start + at * SCALE - time.monotonic()))
        sent = time.monotonic()
        body = {"model": QWEN, "prompt": text, "max_tokens": 200, "ignore_eos": True}
        async with session.post(f"{url}/v1/completions", json=body) as resp:
            assert resp.status == 200, await resp.text()
            usage = (await resp.json())["usage"]
        assert usage["completion_tokens"] == 200 and usage["prompt_tokens"] == 256
        return time.monotonic() - sent

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, a.time, texts[a.prompt]) for a in workload.arrivals()))


def test_served_simulator_and_replay_agree_on_mean_e2e(tmp_path, capsys):
    path = tmp_path / "workload.yaml"
    path.write_text(yaml.safe_dump(WORKLOAD))
    assert replay_cli.main([QWEN, *FLAGS, "--gpu", "L4", "--workload", str(path), "--json"]) == 0
    replayed = json.loads(capsys.readouterr().out)["overall"]["e2e_ms"]["mean"]

    sim = start_sim(tmp_path, *FLAGS, env={"VLLM_SIM_TIME_SCALE": str(SCALE)})
    try:
        served = asyncio.run(_drive(sim.url))
    finally:
        sim.stop()
    served_model_ms = sum(served) / len(served) / SCALE * 1e3
    assert served_model_ms == pytest.approx(replayed, rel=0.05)

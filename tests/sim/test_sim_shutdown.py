"""SIGTERM to a real simulator process follows --shutdown-timeout, as vLLM >= 0.18 does."""

from __future__ import annotations

import signal
import threading
import time

import openai
from sim_helpers import QWEN, SimProcess, call, scrape, start_sim, value

SLOW = {"VLLM_SIM_TIME_SCALE": "0.5"}  # ~2.8 ms per decode step (Qwen2.5-0.5B on an L4 at half time)


class Streamer(threading.Thread):
    """One streaming completion in the background, recording what arrived and how it ended."""

    def __init__(self, sim: SimProcess, max_tokens: int) -> None:
        super().__init__(daemon=True)
        self.sim, self.max_tokens = sim, max_tokens
        self.tokens = 0
        self.finish: str | None = None
        self.error: Exception | None = None
        self.first = threading.Event()

    def run(self) -> None:
        client = openai.OpenAI(base_url=f"{self.sim.url}/v1", api_key="x", max_retries=0, timeout=30)
        try:
            for chunk in client.completions.create(
                model=QWEN,
                prompt="drain me",
                stream=True,
                max_tokens=self.max_tokens,
                extra_body={"ignore_eos": True},
            ):
                self.tokens += len(chunk.choices[0].text) // 4
                self.finish = chunk.choices[0].finish_reason or self.finish
                self.first.set()
        except Exception as exc:  # the connection is cut on abort
            self.error = exc
        finally:
            self.first.set()


def test_shutdown_timeout_zero_aborts_in_flight_requests_at_once(tmp_path):
    sim = start_sim(tmp_path, "--max-model-len", "8192", env=SLOW)
    stream = Streamer(sim, max_tokens=4000)  # ~11 s of generation
    stream.start()
    assert stream.first.wait(10)
    started = time.monotonic()
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 3
    stream.join(10)
    assert stream.tokens < 4000 and stream.finish != "length"


def test_shutdown_timeout_refuses_new_requests_and_lets_in_flight_ones_finish(tmp_path):
    sim = start_sim(tmp_path, "--max-model-len", "4096", "--shutdown-timeout", "20", env=SLOW)
    stream = Streamer(sim, max_tokens=200)  # ~0.6 s of generation
    stream.start()
    assert stream.first.wait(10)
    sim.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    assert call(sim, "/v1/completions", {"prompt": "late", "max_tokens": 1})[0] == 503
    assert value(scrape(sim), "vllm:server_draining") == 1
    assert sim.proc.wait(timeout=15) == 0
    stream.join(5)
    assert stream.error is None
    assert (stream.tokens, stream.finish) == (200, "length")


def test_shutdown_timeout_bounds_the_drain(tmp_path):
    sim = start_sim(tmp_path, "--max-model-len", "8192", "--shutdown-timeout", "1", env=SLOW)
    stream = Streamer(sim, max_tokens=4000)
    stream.start()
    assert stream.first.wait(10)
    started = time.monotonic()
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.proc.wait(timeout=10) == 0
    assert 0.9 <= time.monotonic() - started < 4
    stream.join(10)
    assert stream.tokens < 4000

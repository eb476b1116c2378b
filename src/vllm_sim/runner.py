"""The engine on the wall clock: one asyncio task steps every running sequence per tick.

Each step's model time (x VLLM_SIM_TIME_SCALE) is slept on an ideal timeline that never drifts; when the
process falls behind (CPU-bound), steps run back to back in short bursts and the lag (delivery time minus
the ideal time) is recorded as the simulator's own added latency. Streams wake at most once per step, and
write every token that arrived since their last write in one chunk.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections import deque
from collections.abc import AsyncGenerator

from vllm_sim.engine import FINISHED, Engine, Request

BURST_SECONDS = 0.1
log = logging.getLogger("vllm_sim")


class AsyncEngine:
    def __init__(self, engine: Engine, time_scale: float) -> None:
        self.engine = engine
        self.time_scale = time_scale
        self.extra_step_seconds = 0.0  # /sim/latency: added to every step
        self.lag: deque[float] = deque(maxlen=200_000)
        self.steps = 0
        self._events: dict[str, asyncio.Event] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="vllm-sim-engine")

    @property
    def alive(self) -> bool:
        """False once the engine loop died (vLLM's /health then answers 503)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def now(self) -> float:
        return self._loop.time()

    async def _run(self) -> None:
        try:
            await self._loop_steps()
        except Exception:
            # vLLM's engine-dead state: /health turns 503 and every open request ends with an error.
            log.exception("Engine loop failed")
            for req in [*self.engine.running, *self.engine.waiting]:
                req.status, req.finish_reason = FINISHED, "error"
            for event in self._events.values():
                event.set()
            raise

    async def _loop_steps(self) -> None:
        engine, loop = self.engine, self._loop
        ideal = burst_start = loop.time()
        while True:
            step = engine.schedule() if engine.has_work() else None
            if step is None:
                self._wake.clear()
                if engine.has_work():  # nothing schedulable yet (e.g. all just preempted): poll again soon
                    await asyncio.sleep(0.001)
                else:
                    await self._wake.wait()
                ideal = loop.time()
                continue
            ideal += step.duration * self.time_scale + self.extra_step_seconds
            delay = ideal - loop.time()
            # Behind schedule, steps run back to back so each stream write carries several tokens; the
            # HTTP side still gets the loop at least every BURST_SECONDS.
            if delay > 0 or loop.time() - burst_start > BURST_SECONDS:
                await asyncio.sleep(max(0.0, delay))
                burst_start = loop.time()
            now = loop.time()
            self.lag.append(max(0.0, now - ideal))
            self.steps += 1
            events = self._events
            for req in engine.complete(step, now):
                event = events.get(req.request_id)
                if event is not None:
                    event.set()

    def submit(self, req: Request) -> asyncio.Event:
        event = asyncio.Event()
        self._events[req.request_id] = event
        self.engine.add_request(req, self.now())
        self._wake.set()
        return event

    def abort(self, req: Request) -> None:
        self._events.pop(req.request_id, None)
        if req.status != FINISHED:
            self.engine.abort(req.request_id, self.now())

    def abort_all(self) -> None:
        for req in self.engine.abort_all(self.now()):
            event = self._events.get(req.request_id)
            if event is not None:
                event.set()

    async def stream(self, req: Request) -> AsyncGenerator[int, None]:
        """Yield the number of output pieces available each time the request moves; ends at finish.

        Closing the iterator early (client gone) aborts the request and frees its KV blocks.
        """
        event = self.submit(req)
        try:
            while True:
                await event.wait()
                event.clear()
                yield len(req.output)
                if req.status == FINISHED:
                    return
        finally:
            self.abort(req)

    async def run_to_end(self, req: Request) -> Request:
        async for _ in self.stream(req):
            pass
        return req

    async def log_stats(self, interval: float = 10.0) -> None:
        """vLLM's periodic engine line (off with --disable-log-stats), printed while there is traffic."""
        engine = self.engine
        last = (
            engine.prompt_tokens_total,
            engine.generation_tokens_total,
            engine.prefix_queries,
            engine.prefix_hits,
        )
        while True:
            await asyncio.sleep(interval)
            now = (
                engine.prompt_tokens_total,
                engine.generation_tokens_total,
                engine.prefix_queries,
                engine.prefix_hits,
            )
            if now == last and not engine.has_work():
                continue
            queries, hits = now[2] - last[2], now[3] - last[3]
            log.info(
                "Engine 000: Avg prompt throughput: %.1f tokens/s, Avg generation throughput: %.1f "
                "tokens/s, Running: %d reqs, Waiting: %d reqs, GPU KV cache usage: %.1f%%, "
                "Prefix cache hit rate: %.1f%%",
                (now[0] - last[0]) / interval,
                (now[1] - last[1]) / interval,
                len(engine.running),
                len(engine.waiting),
                engine.kv_usage() * 100,
                100 * hits / queries if queries else 0.0,
            )
            last = now

    def lag_stats(self) -> dict[str, float]:
        samples = sorted(self.lag)
        if not samples:
            return {"samples": 0, "p50_s": 0.0, "p99_s": 0.0, "max_s": 0.0}
        return {
            "samples": len(samples),
            "p50_s": statistics.median(samples),
            "p99_s": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
            "max_s": samples[-1],
        }

"""A bounded load run: requests paced at a constant rate or a fixed concurrency, no request started after the
request or time budget, every request awaited (each bounded by its timeout)."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx2
import openai

from vllm_load.client import send
from vllm_load.outcome import RequestResult
from vllm_load.report import Report
from vllm_load.spec import LoadSpec

MODEL_WAIT_S = 10.0  # how long to look for a model to use when none is named


def _client(spec: LoadSpec) -> openai.AsyncOpenAI:
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=None if spec.keepalive else 0)
    timeout = httpx2.Timeout(spec.timeout_s, connect=min(spec.connect_timeout_s, spec.timeout_s))
    http = openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeout)
    # Retries are the runner's own, so that each one is counted.
    return openai.AsyncOpenAI(
        base_url=spec.base_url, api_key=spec.api_key or "EMPTY", max_retries=0, http_client=http
    )


async def _model(client: openai.AsyncOpenAI, spec: LoadSpec) -> str:
    if spec.model:
        return spec.model
    deadline = time.monotonic() + MODEL_WAIT_S
    while True:
        try:
            models = await client.models.list()
            return models.data[0].id
        except (openai.APIError, IndexError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no model to load: GET {spec.base_url}/models failed: {exc}") from exc
            await asyncio.sleep(0.5)


async def arun_load(spec: LoadSpec, progress_s: float = 0.0) -> Report:
    """Run the load; progress_s > 0 prints a progress line to stderr that often."""
    client = _client(spec)
    try:
        model = await _model(client, spec)
        results: list[RequestResult] = []
        t0 = time.monotonic()
        started_at = time.time()
        deadline = t0 + spec.duration_s

        async def one(i: int) -> None:
            results.append(await send(client, spec, model, i, t0))

        reporter = asyncio.create_task(_progress(results, progress_s, t0)) if progress_s > 0 else None
        if spec.concurrency is not None:
            counter = iter(range(spec.requests))

            async def worker() -> None:
                for i in counter:
                    if time.monotonic() >= deadline:
                        return
                    await one(i)

            await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
        else:
            assert spec.rate is not None
            tasks = []
            for i, due in zip(range(spec.requests), spec.start_times(), strict=False):
                if due >= spec.duration_s:
                    break
                await asyncio.sleep(max(0.0, t0 + due - time.monotonic()))
                tasks.append(asyncio.create_task(one(i)))
            await asyncio.gather(*tasks)
        if reporter:
            reporter.cancel()
        wall = time.monotonic() - t0
    finally:
        await client.close()
    results.sort(key=lambda r: r.index)
    return Report(spec=spec, model=model, started_at=started_at, wall_s=wall, results=results)


async def _progress(results: list[RequestResult], every_s: float, t0: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        failed = sum(not r.ok for r in results)
        elapsed = time.monotonic() - t0
        print(
            f"[vllm-load] {elapsed:6.1f}s: {len(results)} done, {failed} failed", file=sys.stderr, flush=True
        )


def run_load(spec: LoadSpec, progress_s: float = 0.0) -> Report:
    """arun_load in a fresh event loop."""
    return asyncio.run(arun_load(spec, progress_s))

"""Test-only control endpoints under /sim/ (registered only when VLLM_SIM_CONTROL=1).

They let the end-to-end tests drive what the autoscaler and probes observe without real load:
force KV-cache usage or queue depth (the metrics report the forced values), add latency, fail the
health check, crash the process.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import web

from vllm_sim.api import ApiError, SimServer, _json_body, _server


def _number(body: dict[str, Any], key: str, lo: float, hi: float | None = None) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or value < lo
        or (hi is not None and value > hi)
    ):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ApiError(400, f"{key} must be a number {bounds} or null, got {value!r}", param=key)
    return float(value)


def _state(sim: SimServer) -> dict[str, Any]:
    engine = sim.runner.engine
    return {
        "running": len(engine.running),
        "waiting": len(engine.waiting),
        "kv_cache_usage": engine.kv_usage(),
        "num_blocks": engine.pool.num_blocks,
        "free_blocks": engine.pool.num_free,
        "num_preemptions": engine.num_preemptions,
        "prefix_cache_queries": engine.prefix_queries,
        "prefix_cache_hits": engine.prefix_hits,
        "max_running_seen": engine.max_running_seen,
        "steps": sim.runner.steps,
        "lag": sim.runner.lag_stats(),
        "forced": {
            "kv_usage": sim.forced_kv_usage,
            "waiting": sim.forced_waiting,
            "running": sim.forced_running,
        },
        "health_failed": sim.health_failed,
        "extra_request_latency": sim.extra_request_latency,
        "extra_step_latency": sim.runner.extra_step_seconds,
        "draining": sim.draining,
    }


async def stats(request: web.Request) -> web.Response:
    return web.json_response(_state(_server(request)))


async def kv_usage(request: web.Request) -> web.Response:
    """{"value": 0.85} forces vllm:kv_cache_usage_perc; {"value": null} returns to the real figure."""
    sim = _server(request)
    sim.forced_kv_usage = _number(await _json_body(request), "value", 0.0, 1.0)
    return web.json_response(_state(sim))


async def queue(request: web.Request) -> web.Response:
    """{"waiting": 40, "running": 8} forces the queue gauges; null (or absent) clears each."""
    sim = _server(request)
    body = await _json_body(request)
    waiting, running = _number(body, "waiting", 0), _number(body, "running", 0)
    sim.forced_waiting = None if waiting is None else int(waiting)
    sim.forced_running = None if running is None else int(running)
    return web.json_response(_state(sim))


async def latency(request: web.Request) -> web.Response:
    """{"request_seconds": 0.5, "step_seconds": 0.01}: delay before each request, and on every engine step."""
    sim = _server(request)
    body = await _json_body(request)
    sim.extra_request_latency = _number(body, "request_seconds", 0.0) or 0.0
    sim.runner.extra_step_seconds = _number(body, "step_seconds", 0.0) or 0.0
    return web.json_response(_state(sim))


async def health(request: web.Request) -> web.Response:
    """{"healthy": false} makes /health answer 503 until {"healthy": true}."""
    sim = _server(request)
    body = await _json_body(request)
    if not isinstance(body.get("healthy"), bool):
        raise ApiError(400, "healthy must be true or false", param="healthy")
    sim.health_failed = not body["healthy"]
    return web.json_response(_state(sim))


async def crash(request: web.Request) -> web.Response:
    """{"exit_code": 1}: the process exits with that status right after answering."""
    body = await _json_body(request) if request.can_read_body else {}
    code = int(_number(body, "exit_code", 1, 255) or 1)
    asyncio.get_running_loop().call_later(0.05, os._exit, code)
    return web.json_response({"exiting": code})


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/sim/stats", stats)
    app.router.add_post("/sim/kv-usage", kv_usage)
    app.router.add_post("/sim/queue", queue)
    app.router.add_post("/sim/latency", latency)
    app.router.add_post("/sim/health", health)
    app.router.add_post("/sim/crash", crash)

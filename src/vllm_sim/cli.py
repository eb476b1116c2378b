"""`vllm-sim serve MODEL [flags]` (also reachable as `vllm serve ...` through a `vllm` link),
`vllm-sim run-batch` (vllm_sim.run_batch: vLLM's offline batch runner) and `vllm-sim replay`
(vllm_sim.replay_cli: the same engine in virtual time).

Startup mirrors vLLM: parse flags (exit 2 on a bad one), resolve the model, check the memory plan
against the simulated GPU (exit 1 with vLLM's error where vLLM would fail), "load" the model for
VLLM_SIM_LOAD_SECONDS, and only then open the HTTP port. SIGTERM follows --shutdown-timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

from aiohttp import web

from vllm_model.catalog import GIB, GpuSpec, ModelSpec
from vllm_model.memory import MemoryPlan
from vllm_sim import VLLM_VERSION, replay_cli, run_batch, runtime_env
from vllm_sim.api import build_app
from vllm_sim.args import parse_serve_args
from vllm_sim.assemble import assemble, configure_logging
from vllm_sim.control import add_control_routes
from vllm_sim.serve_plan import (
    SimEnv,
    StartupError,
    start_up,
    startup_failed,
)
from vllm_sim.tokenizer import Tokenizer
from vllm_sim.tokens import CHARS_PER_TOKEN

log = logging.getLogger("vllm_sim")
TOP_USAGE = "usage: vllm [-h] [-v] {serve,run-batch,replay} ..."


def _log_plan(plan: MemoryPlan, gpu: GpuSpec) -> None:
    log.info(
        "Simulated GPU: %s (%.2f GiB), tensor parallel %d",
        gpu.name,
        gpu.memory_bytes / GIB,
        plan.tensor_parallel_size,
    )
    log.info("Model loading took %.4f GiB memory", plan.weights_bytes / GIB)
    log.info("Available KV cache memory: %.2f GiB", plan.kv_budget_bytes / GIB)
    if plan.kv_bytes_per_token:
        log.info("GPU KV cache size: %d tokens", plan.kv_tokens)
        log.info(
            "Maximum concurrency for %d tokens per request: %.2fx", plan.max_model_len, plan.max_concurrency
        )


async def serve(
    args: argparse.Namespace,
    model: ModelSpec,
    plan: MemoryPlan,
    sim_env: SimEnv,
    env: Mapping[str, str],
    tokenizer: Tokenizer | None,
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if sim_env.load_seconds:
        log.info("Loading model weights (simulated: %.1f s)", sim_env.load_seconds)
        with_timeout = asyncio.create_task(stop.wait())
        await asyncio.wait([with_timeout], timeout=sim_env.load_seconds)
        if stop.is_set():
            log.info("Interrupted while loading.")
            return 0
        with_timeout.cancel()

    built = assemble(args, model, plan, sim_env, env, tokenizer)
    engine, runner, sim = built.engine, built.runner, built.sim
    app = build_app(
        sim, runtime_lora=env.get("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "").lower() in ("1", "true")
    )
    if sim_env.control:
        add_control_routes(app)
    runner.start()
    stats_task = None if args.disable_log_stats else asyncio.create_task(runner.log_stats())
    web_runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await web_runner.setup()
    host = args.host or "0.0.0.0"
    await web.TCPSite(web_runner, host, args.port, backlog=4096, shutdown_timeout=1.0).start()
    log.info("Starting vLLM API server 0 on http://%s:%d", host, args.port)
    log.info("Application startup complete.")
    await stop.wait()

    timeout = args.shutdown_timeout
    if timeout > 0 and engine.has_work():
        sim.draining = True
        log.info(
            "Shutdown requested: draining %d in-flight requests for up to %d s",
            len(engine.running) + len(engine.waiting),
            timeout,
        )
        deadline = loop.time() + timeout
        while engine.has_work() and loop.time() < deadline:
            await asyncio.sleep(0.02)
    sim.draining = True
    aborted = len(engine.running) + len(engine.waiting)
    runner.abort_all()
    if aborted:
        log.info("Aborted %d in-flight requests", aborted)
    await asyncio.sleep(0.05)  # let aborted streams write their last chunk
    await web_runner.cleanup()
    await runner.stop()
    if stats_task:
        stats_task.cancel()
    log.info("Shutting down.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-v", "--version"):
        print(VLLM_VERSION)
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print(
            f"{TOP_USAGE}\n\nvLLM CLI (simulated by vllm-sim). Subcommands: serve (the OpenAI-compatible "
            "server), run-batch (an OpenAI batch file through the same engine), replay (a workload on the "
            "same engine in virtual time, no HTTP; vllm-sim only)"
        )
        return 0 if argv else 2
    if argv[0] == "replay":
        return replay_cli.main(argv[1:])
    if argv[0] == "run-batch":
        return run_batch.main(argv[1:])
    if argv[0] != "serve":
        print(
            f"{TOP_USAGE}\nvllm: error: argument subparser: invalid choice: '{argv[0]}' "
            "(choose from 'serve', 'run-batch', 'replay')",
            file=sys.stderr,
        )
        return 2
    # The real server imports torch before it parses a flag: a pod it would crash on crashes here too.
    runtime_env.check()
    configure_logging()
    args = parse_serve_args(argv[1:])
    env = os.environ
    log.info("vLLM API server version %s (vllm-sim)", VLLM_VERSION)
    try:
        started = start_up(args, env)
    except StartupError as err:
        return startup_failed(err)
    sim_env, model, plan, tokenizer = started.sim_env, started.model, started.plan, started.tokenizer
    _log_plan(plan, sim_env.gpu)
    log.info(
        "Tokenizer: %s",
        tokenizer.name if tokenizer else f"approximate ({CHARS_PER_TOKEN} characters a token)",
    )
    return _run_loop(serve(args, model, plan, sim_env, env, tokenizer))


def _run_loop(coro: Coroutine[Any, Any, int]) -> int:
    """uvloop when installed (about twice the streamed tokens per core), asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)

"""The simulated server one set of parsed `vllm serve` flags makes: its engine on the wall clock, metrics
and the request handlers' shared state. Shared by `vllm-sim serve` (which puts HTTP in front of it) and
`vllm-sim run-batch` (which feeds it a batch file). Call inside the running event loop."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from vllm_model.catalog import ModelSpec
from vllm_model.memory import MemoryPlan
from vllm_model.timing import TimingModel
from vllm_sim.api import SimServer
from vllm_sim.engine import Engine, EngineConfig
from vllm_sim.metrics import Metrics
from vllm_sim.runner import AsyncEngine
from vllm_sim.serve_plan import SimEnv
from vllm_sim.tokenizer import Tokenizer


def configure_logging() -> None:
    """vLLM's log line on stdout, as `vllm serve` and `vllm run-batch` print it."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(levelname)s %(asctime)s [vllm-sim] %(message)s",
        datefmt="%m-%d %H:%M:%S",
        stream=sys.stdout,
    )


@dataclass
class Assembled:
    engine: Engine
    runner: AsyncEngine
    sim: SimServer
    enable_prefix_caching: bool


def assemble(
    args: argparse.Namespace,
    model: ModelSpec,
    plan: MemoryPlan,
    sim_env: SimEnv,
    env: Mapping[str, str],
    tokenizer: Tokenizer | None,
) -> Assembled:
    timing = TimingModel.build(model, sim_env.gpu, plan)
    enable_caching = args.enable_prefix_caching is not False
    engine = Engine(
        EngineConfig.from_plan(
            plan,
            timing,
            enable_prefix_caching=enable_caching,
            enable_chunked_prefill=args.enable_chunked_prefill is not False,
        )
    )
    runner = AsyncEngine(engine, sim_env.time_scale)
    served = args.served_model_name or [args.model]
    key = env.get("VLLM_API_KEY")
    api_keys = set(args.api_key or ([key] if key else []))
    holder: dict[str, SimServer] = {}
    metrics = Metrics(
        served[0],
        plan.max_model_len,
        running=lambda: holder["sim"].running_count(),
        waiting=lambda: holder["sim"].waiting_count(),
        kv_usage=lambda: holder["sim"].kv_usage(),
        draining=lambda: float(holder["sim"].draining),
        cache_info={
            "block_size": str(plan.block_size),
            "cache_dtype": plan.kv_cache_dtype,
            "enable_prefix_caching": str(enable_caching),
            "gpu_memory_utilization": str(plan.gpu_memory_utilization),
            "num_gpu_blocks": str(plan.num_blocks),
        },
    )
    engine.observer = metrics
    sim = SimServer(
        model=model,
        served_names=served,
        max_model_len=plan.max_model_len,
        runner=runner,
        metrics=metrics,
        block_size=plan.block_size,
        kv_capacity=plan.kv_tokens or None,
        tokenizer=tokenizer,
        api_seconds=timing.api_seconds * sim_env.time_scale,
        seed=args.seed,
        api_keys=api_keys,
        lora_names=[m["name"] for m in args.lora_modules or []],
    )
    holder["sim"] = sim
    return Assembled(engine, runner, sim, enable_caching)

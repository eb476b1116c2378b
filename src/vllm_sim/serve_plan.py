"""What `vllm serve`'s flags resolve to before the server starts: the model, the memory plan, the tokenizer,
or the error vLLM would stop with. Shared by `vllm-sim serve` (vllm_sim.cli), `vllm-sim replay` and
`vllm-sim run-batch`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace

from vllm_model.catalog import (
    DEFAULT_GPU,
    GpuSpec,
    ModelSpec,
    UnknownGpuError,
    UnknownModelError,
    get_gpu,
    load_hf_config,
    resolve_model,
)
from vllm_model.memory import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_GPU_MEMORY_UTILIZATION,
    MIN_BATCHED_TOKENS_WITHOUT_CHUNKING,
    MemoryPlan,
    plan_memory,
)
from vllm_sim.tokenizer import Tokenizer, TokenizerUnavailableError, load_tokenizer


class StartupError(Exception):
    """vLLM would fail to start: `kind` is the exception it raises, the message its text."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class SimEnv:
    gpu: GpuSpec
    time_scale: float
    load_seconds: float
    control: bool
    gpu_count: int | None
    allow_long_max_model_len: bool = False


def _env_float(env: Mapping[str, str], name: str, default: float, minimum: float, strict: bool) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum or (strict and value == minimum):
        bound = f"greater than {minimum}" if strict else f"at least {minimum}"
        raise StartupError("ValueError", f"{name} must be a number {bound}, got {raw!r}")
    return value


def _gpu_count(env: Mapping[str, str]) -> int | None:
    if env.get("VLLM_SIM_GPU_COUNT"):
        return int(env["VLLM_SIM_GPU_COUNT"])
    for var in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        value = env.get(var)
        if value is None or value.strip().lower() in ("", "all"):
            continue
        if value.strip().lower() in ("void", "none"):
            return 0
        return len([d for d in value.split(",") if d.strip()])
    return None


def read_env(env: Mapping[str, str]) -> SimEnv:
    """The simulator's knobs, plus the vLLM environment checks that make real vLLM crash."""
    port = env.get("VLLM_PORT")
    if port and "://" in port:
        # A Kubernetes Service named `vllm` injects VLLM_PORT=tcp://...; vLLM refuses it.
        raise StartupError(
            "ValueError",
            f"VLLM_PORT '{port}' appears to be a URI. This may be caused by a Kubernetes service discovery "
            "issue, check the warning in: https://docs.vllm.ai/en/stable/serving/env_vars.html",
        )
    try:
        gpu = get_gpu(env.get("VLLM_SIM_GPU") or DEFAULT_GPU)
    except UnknownGpuError as exc:
        raise StartupError("ValueError", f"VLLM_SIM_GPU: {exc}") from exc
    return SimEnv(
        gpu=gpu,
        time_scale=_env_float(env, "VLLM_SIM_TIME_SCALE", 1.0, 0.0, strict=True),
        load_seconds=_env_float(env, "VLLM_SIM_LOAD_SECONDS", 0.0, 0.0, strict=False),
        control=env.get("VLLM_SIM_CONTROL") == "1",
        gpu_count=_gpu_count(env),
        allow_long_max_model_len=env.get("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "").lower() in ("1", "true"),
    )


@dataclass
class Startup:
    """What a start of `vllm serve` / `vllm run-batch` resolved: the environment, model, plan, tokenizer."""

    sim_env: SimEnv
    model: ModelSpec
    plan: MemoryPlan
    tokenizer: Tokenizer | None


def start_up(args: argparse.Namespace, env: Mapping[str, str]) -> Startup:
    """vLLM's start in order (environment, model, memory plan, tokenizer); StartupError where it fails."""
    sim_env = read_env(env)
    model = model_from_args(args)
    plan = plan_from_args(args, model, sim_env)
    return Startup(sim_env, model, plan, tokenizer_for(model))


def startup_failed(err: StartupError) -> int:
    """Print vLLM's engine start failure; the exit status it ends with."""
    print(f"ERROR [vllm-sim] EngineCore failed to start.\n{err.kind}: {err}", file=sys.stderr, flush=True)
    return 1


def model_from_args(args: argparse.Namespace, hf_config: str | None = None) -> ModelSpec:
    """The model `vllm serve` was given: `--hf-config-path` (or replay's --hf-config) names the config.json
    (or model directory) whose shapes to use for MODEL; else a catalogue id or a local model directory."""
    path = hf_config or args.hf_config_path
    try:
        if path:
            return replace(load_hf_config(path), name=args.model)
        return resolve_model(args.model)
    except UnknownModelError as exc:
        raise StartupError("OSError", str(exc)) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StartupError("OSError", f"cannot read the Hugging Face config {path}: {exc!r}") from exc


def tokenizer_for(model: ModelSpec) -> Tokenizer | None:
    """The model's own tokenizer where the catalogue names one (vLLM loads it at startup too)."""
    if model.tokenizer is None:
        return None
    try:
        return load_tokenizer(model.tokenizer)
    except TokenizerUnavailableError as exc:
        raise StartupError("ImportError", str(exc)) from exc


def plan_from_args(args: argparse.Namespace, model: ModelSpec, sim_env: SimEnv) -> MemoryPlan:
    """Run vLLM's startup checks on the parsed flags; raise StartupError where vLLM would fail."""
    util = (
        DEFAULT_GPU_MEMORY_UTILIZATION if args.gpu_memory_utilization is None else args.gpu_memory_utilization
    )
    if not 0 < util <= 1:
        raise StartupError(
            "pydantic_core.ValidationError",
            "1 validation error for CacheConfig\ngpu_memory_utilization\n  Input should be greater than 0 "
            f"and less than or equal to 1 [input_value={util}]",
        )
    if sim_env.gpu_count == 0:
        raise StartupError("RuntimeError", "No CUDA GPUs are available")
    chunked = args.enable_chunked_prefill is not False
    mml = args.max_model_len
    tokens = args.max_num_batched_tokens
    if not chunked and tokens is None:
        tokens = max(mml or model.max_position_embeddings, MIN_BATCHED_TOKENS_WITHOUT_CHUNKING)
    plan = plan_memory(
        model,
        sim_env.gpu,
        dtype=args.dtype,
        quantization=args.quantization,
        kv_cache_dtype=args.kv_cache_dtype,
        tensor_parallel_size=args.tensor_parallel_size,
        pipeline_parallel_size=args.pipeline_parallel_size,
        max_model_len=mml,
        gpu_memory_utilization=util,
        block_size=args.block_size or DEFAULT_BLOCK_SIZE,
        max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=tokens,
        enforce_eager=bool(args.enforce_eager),
        gpu_count=sim_env.gpu_count,
        allow_long_max_model_len=sim_env.allow_long_max_model_len,
        kv_cache_memory_bytes=args.kv_cache_memory_bytes,
        num_gpu_blocks_override=args.num_gpu_blocks_override,
    )
    if not chunked and plan.max_num_batched_tokens < plan.max_model_len:
        raise StartupError(
            "ValueError",
            f"max_num_batched_tokens ({plan.max_num_batched_tokens}) is smaller than max_model_len "
            f"({plan.max_model_len}). This effectively limits the maximum sequence length to "
            "max_num_batched_tokens and makes vLLM reject longer sequences. Please increase "
            "max_num_batched_tokens or decrease max_model_len.",
        )
    if plan.max_num_batched_tokens < plan.max_num_seqs:
        raise StartupError(
            "ValueError",
            f"max_num_batched_tokens ({plan.max_num_batched_tokens}) must be greater than or equal to "
            f"max_num_seqs ({plan.max_num_seqs}).",
        )
    if not plan.fits:
        raise StartupError(plan.error_type or "ValueError", plan.reason or "the model does not fit")
    return plan

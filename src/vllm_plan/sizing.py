"""Will it fit, and how many sequences: the simulator's memory model applied to one PlanRequest."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vllm_model.catalog import GpuSpec, ModelSpec, get_gpu, load_hf_config, resolve_model
from vllm_model.memory import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_GPU_MEMORY_UTILIZATION,
    MemoryPlan,
    plan_memory,
    scheduler_defaults,
)
from vllm_plan.errors import PlanInputError
from vllm_plan.request import PlanRequest, label


@dataclass(frozen=True)
class FitReport:
    request: PlanRequest
    model_spec: ModelSpec
    gpu_spec: GpuSpec
    memory: MemoryPlan
    context_length: int
    sequences_at_context: int | None  # None: the model keeps no KV cache (encoder-only embedding model)
    max_num_seqs_recommended: int | None
    warnings: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return self.memory.fits


def resolve_model_arg(model: str) -> ModelSpec:
    """A catalogue name/alias, a local model directory, or a path to a Hugging Face config.json."""
    path = Path(model)
    try:
        if path.suffix == ".json" and path.is_file():
            return load_hf_config(path)
        return resolve_model(model)
    except LookupError as exc:
        raise PlanInputError(f"{label('model')}: {exc}") from exc
    except (KeyError, ValueError) as exc:
        raise PlanInputError(
            f"{label('model')}: {model} is not a usable Hugging Face config.json: {exc}"
        ) from exc


def _sequences_at(memory: MemoryPlan, context: int) -> int | None:
    if not memory.kv_bytes_per_token:
        return None
    return memory.num_blocks // math.ceil(context / memory.block_size)


def assess(request: PlanRequest) -> FitReport:
    """Run the memory model for `request` and size max-num-seqs for its expected context length."""
    if not request.model:
        raise PlanInputError(f"{label('model')} is required")
    if not request.gpu:
        raise PlanInputError(f"{label('gpu')} is required")
    spec = resolve_model_arg(request.model)
    try:
        card = get_gpu(request.gpu)
    except LookupError as exc:
        raise PlanInputError(f"{label('gpu')}: {exc}") from exc
    utilization = request.gpu_memory_utilization or DEFAULT_GPU_MEMORY_UTILIZATION
    if not 0 < utilization <= 1:
        raise PlanInputError(f"{label('gpu_memory_utilization')} must be in (0, 1], got {utilization}")
    try:
        memory = plan_memory(
            spec,
            card,
            dtype=request.dtype,
            quantization=request.quantization,
            tensor_parallel_size=request.tensor_parallel_size,
            max_model_len=request.max_model_len,
            gpu_memory_utilization=utilization,
            block_size=request.block_size or DEFAULT_BLOCK_SIZE,
            max_num_seqs=request.max_num_seqs,
            gpu_count=request.gpu_count,
            num_gpu_blocks_override=request.num_gpu_blocks_override,
        )
    except ValueError as exc:  # unknown dtype / quantization spelling
        field = "quantization" if "quantization" in str(exc).lower() else "dtype"
        raise PlanInputError(f"{label(field)}: {exc}") from exc
    context = request.context_length or memory.max_model_len
    if context > memory.max_model_len:
        raise PlanInputError(
            f"--context-length {context} is longer than max-model-len {memory.max_model_len}: "
            "no request can be that long"
        )
    sequences = _sequences_at(memory, context)
    default_cap = scheduler_defaults(card)[0]
    recommended = None
    if memory.fits:
        recommended = default_cap if sequences is None else max(1, min(default_cap, sequences))
    return FitReport(
        request=request,
        model_spec=spec,
        gpu_spec=card,
        memory=memory,
        context_length=context,
        sequences_at_context=sequences,
        max_num_seqs_recommended=recommended,
        warnings=_warnings(request, memory, sequences),
    )


def _warnings(request: PlanRequest, memory: MemoryPlan, sequences: int | None) -> tuple[str, ...]:
    found = []
    if memory.fits and sequences is not None and memory.max_num_seqs > sequences:
        source = "set" if request.max_num_seqs else "vLLM's default"
        found.append(
            f"max-num-seqs {memory.max_num_seqs} ({source}) exceeds the {sequences} sequences the KV cache "
            "holds at this context length: expect preemptions (vllm:num_preemptions_total) under load"
        )
    return tuple(found)

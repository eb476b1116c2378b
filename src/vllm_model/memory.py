"""THE memory model: does a model fit a GPU under vLLM's settings, and how big is its KV cache?

One function, `plan_memory`, answers for the simulator (it sizes the engine's KV block pool and refuses
to start where vLLM refuses) and for the planner (`vllm_plan`), which imports it. Arithmetic, per GPU:

    weights   = (non-embedding params x bytes per param x (1 + quantization overhead)
                 + embedding params x activation bytes) / (tensor_parallel x pipeline_parallel)
    overhead  = non-torch memory (CUDA context, cuBLAS, NCCL when sharded)
                + CUDA graphs (unless --enforce-eager)
                + activation peak of the profile run (max-num-batched-tokens tokens through one layer,
                  plus the sampler's fp32 logits for max-num-seqs sequences)
    kv budget = total memory x gpu-memory-utilization - weights - overhead
    kv/token  = 2 (K and V) x layers/PP x max(1, kv_heads/TP) x head_dim x kv-cache bytes
    blocks    = floor(kv budget / (block_size x kv/token)); kv_tokens = blocks x block_size
    fits      iff no configuration error, weights fit the card, and kv_tokens >= max_model_len

The checks run in vLLM's order and a refusal carries vLLM's own wording (vLLM 0.33-era sources:
`vllm/config/model.py`, `vllm/platforms/cuda.py`, `vllm/v1/core/kv_cache_utils.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vllm_model.catalog import (
    GIB,
    GpuSpec,
    ModelSpec,
    canonical_dtype,
    dtype_bytes,
    get_gpu,
    load_dtypes,
    load_gpus,
    load_hf_config,
    load_models,
    load_quantizations,
    resolve_model,
)

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_GPU_MEMORY_UTILIZATION",
    "DEFAULT_MAX_NUM_SEQS",
    "MIN_BATCHED_TOKENS_WITHOUT_CHUNKING",
    "MemoryPlan",
    "load_gpus",
    "load_hf_config",
    "load_models",
    "plan_memory",
    "resolve_dtype",
    "scheduler_defaults",
    "static_overhead_bytes",
    "weight_bytes",
]

DEFAULT_GPU_MEMORY_UTILIZATION = 0.92  # vllm/config/cache.py (0.90 before the 0.2x releases)
DEFAULT_BLOCK_SIZE = 16
DEFAULT_MAX_NUM_SEQS = 256  # V1's --max-num-seqs below 70 GiB (and on A100s); 1024 on larger cards
# vllm/config/scheduler.py's DEFAULT_MAX_NUM_BATCHED_TOKENS: with chunked prefill off, the token budget is
# max(max-model-len, this) so that a whole prompt fits one step.
MIN_BATCHED_TOKENS_WITHOUT_CHUNKING = 2048
NON_TORCH_BYTES = int(0.35 * GIB)  # CUDA context, cuBLAS workspaces, allocator slack
NCCL_BYTES = int(0.30 * GIB)  # communicator buffers when the model is sharded
CUDA_GRAPH_BYTES = int(0.30 * GIB)  # captured decode graphs (0 with --enforce-eager)
LOAD_HEADROOM_BYTES = int(0.40 * GIB)
# Methods that need a pre-quantized checkpoint (fp8 and bitsandbytes also quantize bf16 weights on load).
PRE_QUANTIZED_ONLY = (
    "awq",
    "gptq",
    "compressed-tensors",
)  # what the driver keeps: weights beyond this OOM while loading


@dataclass(frozen=True)
class MemoryPlan:
    """What one vLLM instance would do with one GPU (all byte figures are per GPU)."""

    model: str
    gpu: str
    dtype: str  # resolved activation dtype (float16 / bfloat16 / float32)
    quantization: str | None
    kv_cache_dtype: str
    tensor_parallel_size: int
    pipeline_parallel_size: int
    max_model_len: int
    gpu_memory_utilization: float
    block_size: int
    max_num_seqs: int
    max_num_batched_tokens: int
    gpu_memory_bytes: int
    budget_bytes: int  # total x utilization
    weights_bytes: int
    overhead_bytes: int
    kv_budget_bytes: int  # may be negative: that is the "no memory for the cache" case
    kv_bytes_per_token: int
    num_blocks: int
    kv_tokens: int
    fits: bool
    reason: str | None = None  # vLLM's error message when it would refuse to start
    error_type: str | None = None  # the exception vLLM raises (ValueError, torch.OutOfMemoryError, ...)

    @property
    def max_concurrency(self) -> float:
        """How many max-model-len sequences the KV cache holds at once (vLLM logs this at start)."""
        return self.kv_tokens / self.max_model_len if self.max_model_len else 0.0

    @property
    def error(self) -> str | None:
        """`Type: message`, as the traceback's last line would read."""
        return f"{self.error_type}: {self.reason}" if self.reason else None


def scheduler_defaults(gpu: GpuSpec) -> tuple[int, int]:
    """vLLM's (max_num_seqs, max_num_batched_tokens) for `vllm serve` on this GPU.

    V1 picks bigger defaults on cards with at least 70 GiB that are not A100s (engine/arg_utils.py).
    """
    big = gpu.memory_bytes >= 70 * GIB and "A100" not in gpu.name
    return (1024, 8192) if big else (DEFAULT_MAX_NUM_SEQS, 2048)


def resolve_dtype(model: ModelSpec, gpu: GpuSpec, dtype: str) -> str:
    """`--dtype auto` takes the checkpoint's dtype, falling back to float16 where bf16 is missing."""
    if dtype != "auto":
        return canonical_dtype(dtype)
    wanted = canonical_dtype(model.torch_dtype)
    if wanted == "float32":  # vLLM serves fp32 checkpoints in half precision under "auto"
        wanted = "bfloat16" if gpu.bf16 else "float16"
    if wanted == "bfloat16" and not gpu.bf16:
        return "float16"
    return wanted


def _weights_bytes(model: ModelSpec, act_bytes: int, quant_name: str | None, shards: int) -> int:
    embed = model.embedding_params
    body = model.params - embed
    if quant_name:
        quant = load_quantizations()[quant_name]
        body_bytes = body * quant.bytes_per_param * (1 + quant.overhead)
    else:
        body_bytes = body * act_bytes
    return int((body_bytes + embed * act_bytes) / shards)


def weight_bytes(model: ModelSpec, dtype: str, quantization: str | None = None, shards: int = 1) -> int:
    """Weight bytes per GPU of `model` loaded in activation `dtype` (a --dtype spelling other than auto),
    quantized with `quantization` (a --quantization spelling; None: unquantized), over `shards` GPUs."""
    return _weights_bytes(model, dtype_bytes(dtype), quantization, shards)


def static_overhead_bytes(shards: int) -> int:
    """The runtime memory that depends on neither the model nor the batch: CUDA context, cuBLAS workspaces
    and allocator slack, plus NCCL's communicator buffers when the model is sharded over several GPUs."""
    return NON_TORCH_BYTES + (NCCL_BYTES if shards > 1 else 0)


def _overhead_bytes(
    model: ModelSpec, act_bytes: int, tp: int, shards: int, seqs: int, tokens: int, enforce_eager: bool
) -> int:
    per_token = (6 * model.hidden_size + 3 * model.intermediate_size // tp) * act_bytes
    logits = 0 if model.is_embedding_model else seqs * (model.vocab_size // tp) * 4
    graphs = 0 if enforce_eager or model.encoder_only else CUDA_GRAPH_BYTES
    return static_overhead_bytes(shards) + graphs + tokens * per_token + logits


def kv_bytes_per_token(model: ModelSpec, kv_bytes: int, tp: int = 1, pp: int = 1) -> int:
    """KV-cache bytes one token occupies on one GPU (0 for encoder-only models: they keep no cache)."""
    if model.encoder_only:
        return 0
    kv_heads_per_gpu = max(1, model.num_kv_heads // tp)  # TP beyond the KV heads replicates them
    layers_per_gpu = math.ceil(model.num_layers / pp)
    return 2 * layers_per_gpu * kv_heads_per_gpu * model.head_dim * kv_bytes


def _config_error(
    model: ModelSpec,
    gpu: GpuSpec,
    act_dtype: str,
    quant_flag: str | None,
    quant: str | None,
    tp: int,
    pp: int,
    max_model_len: int,
    gpu_count: int | None,
    allow_long: bool = False,
) -> tuple[str, str] | None:
    """The first configuration check vLLM fails, as (exception type, message), or None."""
    derived = model.max_position_embeddings
    if max_model_len > derived and not allow_long:
        return "pydantic_core.ValidationError", (
            f"User-specified max_model_len ({max_model_len}) is greater than the derived max_model_len "
            f"(max_position_embeddings={derived} or model_max_length=None in model's config.json). To allow "
            "overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. "
            "VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution."
        )
    own = model.quantization
    if quant_flag in PRE_QUANTIZED_ONLY and not own:
        return "ValueError", f"Cannot find the config file for {quant_flag}"
    if (
        own
        and quant_flag
        and load_quantizations()[quant_flag].checkpoint_format != load_quantizations()[own].name
    ):
        return "ValueError", (
            f"Quantization method specified in the model config ({own}) does not match the "
            f"quantization method specified in the `quantization` argument ({quant_flag})."
        )
    if quant:
        need = load_quantizations()[quant].min_capability
        if gpu.capability_int < need:
            return "ValueError", (
                f"The quantization method {quant} is not supported for the current GPU. Minimum capability: "
                f"{need}. Current capability: {gpu.capability_int}."
            )
    if act_dtype == "bfloat16" and not gpu.bf16:
        return "ValueError", (
            "Bfloat16 is only supported on GPUs with compute capability of at least 8.0. "
            f"Your {gpu.name} GPU has compute capability {gpu.compute_capability}. "
            "You can use float16 instead by explicitly setting the `dtype` flag in CLI, "
            "for example: --dtype=half."
        )
    if model.num_attention_heads % tp:
        return "ValueError", (
            f"Total number of attention heads ({model.num_attention_heads}) must be divisible by "
            f"tensor parallel size ({tp})."
        )
    if model.num_kv_heads > tp and model.num_kv_heads % tp:
        return "ValueError", (
            f"Total number of key-value heads ({model.num_kv_heads}) must be divisible by "
            f"tensor parallel size ({tp})."
        )
    if gpu_count is not None and tp * pp > gpu_count:
        return "ValueError", (
            f"World size ({tp * pp}) is larger than the number of available GPUs ({gpu_count}) in this node."
        )
    return None


def plan_memory(
    model: str | ModelSpec,
    gpu: str | GpuSpec,
    *,
    dtype: str = "auto",
    quantization: str | None = None,
    kv_cache_dtype: str = "auto",
    tensor_parallel_size: int = 1,
    pipeline_parallel_size: int = 1,
    max_model_len: int | None = None,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_num_seqs: int | None = None,
    max_num_batched_tokens: int | None = None,
    enforce_eager: bool = False,
    gpu_count: int | None = None,
    allow_long_max_model_len: bool = False,
    kv_cache_memory_bytes: int | None = None,
    num_gpu_blocks_override: int | None = None,
) -> MemoryPlan:
    """Plan one vLLM instance of `model` on `gpu` (names from the catalogues, or specs).

    `quantization` is the `--quantization` flag (None: the checkpoint's own method, if any);
    `max_model_len` None means the model's max_position_embeddings, as in vLLM; `gpu_count` (GPUs
    visible to the pod) enables the world-size check; `allow_long_max_model_len` is vLLM's
    VLLM_ALLOW_LONG_MAX_MODEL_LEN=1; `kv_cache_memory_bytes` sets the KV budget directly (ignoring the
    utilization) and `num_gpu_blocks_override` replaces the block count after the checks, as in vLLM.

    Never raises for a configuration vLLM would refuse: returns `fits=False` with vLLM's message in
    `reason`. Raises LookupError for unknown names and ValueError for unknown dtype/quantization spellings.
    """
    spec = resolve_model(model) if isinstance(model, str) else model
    card = get_gpu(gpu) if isinstance(gpu, str) else gpu
    tp, pp = tensor_parallel_size, pipeline_parallel_size
    shards = tp * pp
    quants = load_quantizations()
    if quantization is not None and quantization not in quants:
        raise ValueError(f"Unknown quantization method {quantization!r}; known: {', '.join(quants)}")
    quant_flag = quants[quantization].name if quantization else None
    quant = quant_flag or (quants[spec.quantization].name if spec.quantization in quants else None)
    act_dtype = resolve_dtype(spec, card, dtype)
    act_bytes = dtype_bytes(act_dtype)
    kv_table = load_dtypes()["kv_cache_dtypes"]
    if kv_cache_dtype != "auto" and kv_cache_dtype not in kv_table:
        raise ValueError(f"Unknown kv-cache dtype {kv_cache_dtype!r}; known: auto, {', '.join(kv_table)}")
    kv_elem = act_bytes if kv_cache_dtype == "auto" else kv_table[kv_cache_dtype]
    mml = max_model_len or spec.max_position_embeddings
    default_seqs, default_tokens = scheduler_defaults(card)
    seqs = max_num_seqs or default_seqs
    tokens = max_num_batched_tokens or max(default_tokens, mml if spec.is_embedding_model else 0)

    weights = _weights_bytes(spec, act_bytes, quant, shards)
    overhead = _overhead_bytes(spec, act_bytes, tp, shards, seqs, tokens, enforce_eager)
    budget = int(card.memory_bytes * gpu_memory_utilization)
    kv_budget = budget - weights - overhead if kv_cache_memory_bytes is None else kv_cache_memory_bytes
    per_token = kv_bytes_per_token(spec, kv_elem, tp, pp)
    blocks = max(0, kv_budget // (block_size * per_token)) if per_token else 0
    kv_tokens = blocks * block_size

    error = _config_error(
        spec, card, act_dtype, quant_flag, quant, tp, pp, mml, gpu_count, allow_long_max_model_len
    )
    if error is None and weights > card.memory_bytes - LOAD_HEADROOM_BYTES:
        # Weights load in shards of ~224 MiB; the one that does not fit fails with what is left.
        free_mib = (card.memory_bytes - LOAD_HEADROOM_BYTES) / 2**20 % 224
        error = (
            "torch.OutOfMemoryError",
            (
                f"CUDA out of memory. Tried to allocate 224.00 MiB. GPU 0 has a total capacity of "
                f"{card.memory_bytes / GIB:.2f} GiB of which {free_mib:.2f} MiB is free."
            ),
        )
    if error is None and per_token and kv_budget <= 0:
        error = (
            "ValueError",
            (
                "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
                "initializing the engine."
            ),
        )
    if error is None and per_token and kv_tokens < mml:
        needed = mml * per_token
        error = (
            "ValueError",
            (
                f"To serve at least one request with the models's max seq len ({mml}), "
                f"({needed / GIB:.2f} GiB KV cache is needed, which is larger than the available KV cache "
                f"memory ({kv_budget / GIB:.2f} GiB). Based on the available memory, the estimated maximum "
                f"model length is {kv_tokens}. Try increasing `gpu_memory_utilization` or decreasing "
                "`max_model_len` when initializing the engine."
            ),
        )
    if num_gpu_blocks_override is not None and per_token:
        blocks, kv_tokens = num_gpu_blocks_override, num_gpu_blocks_override * block_size
    return MemoryPlan(
        model=spec.name,
        gpu=card.key,
        dtype=act_dtype,
        quantization=quant,
        kv_cache_dtype=kv_cache_dtype,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
        max_model_len=mml,
        gpu_memory_utilization=gpu_memory_utilization,
        block_size=block_size,
        max_num_seqs=seqs,
        max_num_batched_tokens=tokens,
        gpu_memory_bytes=card.memory_bytes,
        budget_bytes=budget,
        weights_bytes=weights,
        overhead_bytes=overhead,
        kv_budget_bytes=kv_budget,
        kv_bytes_per_token=per_token,
        num_blocks=int(blocks),
        kv_tokens=int(kv_tokens),
        fits=error is None,
        error_type=error[0] if error else None,
        reason=error[1] if error else None,
    )

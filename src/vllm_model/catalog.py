"""The simulator's catalogues: model architectures, GPUs, dtypes and quantization methods.

Data lives in `catalog/*.yaml`; this module loads it into typed records and resolves a model name the
way `vllm serve MODEL` does: a Hugging Face id (or an alias of one, or a pre-quantized checkpoint of
one) from the catalogue, or a local directory holding a Hugging Face `config.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from vllm_model.hf_config import spec_fields

CATALOG_DIR = Path(__file__).parent / "catalog"
GIB = 1024**3
# The card the simulator stands in for, and the fake device plugin advertises, when none is named.
DEFAULT_GPU = "L4"


class UnknownModelError(LookupError):
    """The model is neither in the catalogue nor a local directory with a config.json."""


class UnknownGpuError(LookupError):
    """The GPU name is not in the catalogue."""


@dataclass(frozen=True)
class ModelSpec:
    """One model architecture (a checkpoint may add a quantization method and its own dtype)."""

    name: str
    params: int
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int
    torch_dtype: str = "bfloat16"
    tie_word_embeddings: bool = False
    task: str = "generate"  # or "embed"
    encoder_only: bool = False  # bidirectional attention: no KV cache at all
    embedding_dim: int | None = None
    quantization: str | None = None  # method from the checkpoint's quantization_config
    # Mixture of experts (0 experts: a dense model). `params` counts every expert: it is what memory holds.
    num_experts: int = 0  # routed experts per MoE layer (num_local_experts / num_experts / n_routed_experts)
    num_experts_per_tok: int = 0  # experts each token is routed to (top-k)
    moe_intermediate_size: int = 0  # one routed expert's FFN width (0: intermediate_size)
    shared_expert_intermediate_size: int = 0  # FFN width of the always-on shared expert(s), if any
    num_moe_layers: int | None = None  # layers with a MoE block (None: every layer, when num_experts > 0)
    vision_params: int = 0  # a multimodal tower: loaded into memory, not on the text decode path
    attention_chunk_size: int = (
        0  # chunked local attention (Llama 4): vLLM captures no full CUDA graph for it
    )
    tokenizer: str | None = None  # a tokenizer a registry package ships (vllm_sim.tokenizer), else None

    @property
    def embedding_params(self) -> int:
        """Parameters in the input embedding and (untied) lm_head: never quantized."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def is_embedding_model(self) -> bool:
        return self.task == "embed"

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def moe_layers(self) -> int:
        if not self.is_moe:
            return 0
        return self.num_layers if self.num_moe_layers is None else self.num_moe_layers

    @property
    def expert_params(self) -> int:
        """Parameters of one routed expert in one layer (gate, up and down projections)."""
        return 3 * self.hidden_size * (self.moe_intermediate_size or self.intermediate_size)

    @property
    def routed_expert_params(self) -> int:
        """Every routed expert of every MoE layer: in memory, but a token runs only top-k of them."""
        return self.moe_layers * self.num_experts * self.expert_params

    @property
    def lm_head_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def token_params(self) -> int:
        """Parameters one token's forward pass multiplies through, the lm_head excluded: attention, dense
        MLPs, shared experts and its top-k routed experts (the embedding lookup is a gather, no FLOPs)."""
        body = self.params - self.vision_params - self.embedding_params - self.routed_expert_params
        return body + self.moe_layers * self.num_experts_per_tok * self.expert_params


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model: total memory as torch reports it, HBM bandwidth, dense tensor-core peaks."""

    key: str
    name: str
    memory_mib: int
    bandwidth_gbps: float
    fp16_tflops: float
    fp8_tflops: float | None
    compute_capability: float
    bf16: bool
    interconnect: str = "pcie4"  # how its GPUs talk in a tensor-parallel group (timing.yaml interconnects)
    architecture: str = ""  # GPU generation: an uncalibrated card takes its generation's timing calibration

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * 1024 * 1024

    @property
    def capability_int(self) -> int:
        """Compute capability as vLLM compares it (major * 10 + minor)."""
        return round(self.compute_capability * 10)

    @property
    def fp8(self) -> bool:
        return self.fp8_tflops is not None


@dataclass(frozen=True)
class Quantization:
    name: str
    bytes_per_param: float
    overhead: float
    min_capability: int
    aliases: tuple[str, ...]
    # The checkpoint format this method loads: a Marlin kernel (awq_marlin) serves an `awq` checkpoint.
    checkpoint_format: str


def _load_yaml(name: str) -> Any:
    with (CATALOG_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


_MODEL_FIELDS = set(ModelSpec.__dataclass_fields__) - {"name"}


def _model_from_entry(name: str, entry: dict[str, Any]) -> ModelSpec:
    return ModelSpec(name=name, **{k: v for k, v in entry.items() if k in _MODEL_FIELDS})


@cache
def load_models() -> dict[str, ModelSpec]:
    """Every catalogue name (canonical ids, aliases, quantized checkpoints) -> its ModelSpec."""
    data = _load_yaml("models.yaml")
    models: dict[str, ModelSpec] = {}
    for name, entry in data["architectures"].items():
        spec = _model_from_entry(name, entry)
        models[name] = spec
        for alias in entry.get("aliases", []):
            models[alias] = replace(spec, name=alias)
    for name, entry in data["checkpoints"].items():
        base = models[entry["base"]]
        models[name] = replace(
            base, name=name, quantization=entry["quantization"], torch_dtype=entry["torch_dtype"]
        )
    return models


# Fields of a gpus.yaml entry that are not GpuSpec fields: where the GPU is found (node_labels) and the
# other names it goes by (aliases, see gpu_aliases).
_GPU_PLACEMENT_FIELDS = {"node_labels", "aliases"}


@cache
def load_gpus() -> dict[str, GpuSpec]:
    """GPU catalogue keyed by the names `VLLM_SIM_GPU` takes (T4, L4, A10G, A100-80GB, ...)."""
    return {
        key: GpuSpec(key=key, **{k: v for k, v in entry.items() if k not in _GPU_PLACEMENT_FIELDS})
        for key, entry in _load_yaml("gpus.yaml").items()
    }


@cache
def gpu_node_labels() -> dict[str, dict[str, tuple[str, ...]]]:
    """GPU -> provider -> the values its node label takes on nodes with that GPU (gpus.yaml `node_labels`),
    plus `gfd`: GPU feature discovery's `nvidia.com/gpu.product`, the CUDA device name with dashes."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for key, entry in _load_yaml("gpus.yaml").items():
        labels = {provider: tuple(values) for provider, values in (entry.get("node_labels") or {}).items()}
        out[key] = {**labels, "gfd": (str(entry["name"]).replace(" ", "-"),)}
    return out


@cache
def gpu_aliases() -> dict[str, str]:
    """Other spellings of a catalogue GPU (`H100` for `H100-80GB`) -> its key."""
    return {
        alias: key for key, entry in _load_yaml("gpus.yaml").items() for alias in entry.get("aliases", [])
    }


@cache
def load_dtypes() -> dict[str, Any]:
    """Raw dtype tables: `dtypes` (canonical -> bytes, aliases) and `kv_cache_dtypes` (name -> bytes)."""
    tables: dict[str, Any] = _load_yaml("dtypes.yaml")
    return tables


@cache
def load_quantizations() -> dict[str, Quantization]:
    """Every accepted `--quantization` spelling -> its Quantization (aliases share one record)."""
    out: dict[str, Quantization] = {}
    for name, entry in load_dtypes()["quantizations"].items():
        quant = Quantization(
            name=name,
            bytes_per_param=entry["bytes_per_param"],
            overhead=entry["overhead"],
            min_capability=entry["min_capability"],
            aliases=tuple(entry["aliases"]),
            checkpoint_format=entry.get("checkpoint_format", name),
        )
        for alias in quant.aliases:
            out[alias] = quant
    return out


def dtype_choices() -> tuple[str, ...]:
    """What `--dtype` accepts, in vLLM's order: auto, then every CLI spelling of the catalogue's dtypes."""
    spellings = (alias for entry in load_dtypes()["dtypes"].values() for alias in entry["aliases"])
    return ("auto", *spellings)


def kv_cache_dtype_choices() -> tuple[str, ...]:
    """What `--kv-cache-dtype` accepts: auto (the activation dtype), then the catalogue's KV-cache dtypes."""
    return ("auto", *load_dtypes()["kv_cache_dtypes"])


def canonical_dtype(value: str) -> str:
    """Map a `--dtype` spelling (half, float16, bf16, float...) to float16/bfloat16/float32."""
    table: dict[str, dict[str, Any]] = load_dtypes()["dtypes"]
    for canonical, entry in table.items():
        if value in entry["aliases"]:
            return canonical
    raise ValueError(f"Unknown dtype: {value}")


def dtype_bytes(dtype: str) -> int:
    return int(load_dtypes()["dtypes"][canonical_dtype(dtype)]["bytes"])


def get_gpu(name: str) -> GpuSpec:
    gpus = load_gpus()
    key = gpu_aliases().get(name, name)
    if key not in gpus:
        raise UnknownGpuError(f"Unknown GPU {name!r}; known: {', '.join(gpus)}")
    return gpus[key]


def model_from_hf_config(config: dict[str, Any], name: str) -> ModelSpec:
    """Turn a Hugging Face `config.json` (already parsed) into a ModelSpec (MoE fields included)."""
    return ModelSpec(name=name, **spec_fields(config))


def load_hf_config(path: str | Path) -> ModelSpec:
    """Read a local model directory (or a config.json file) into a ModelSpec."""
    path = Path(path)
    config_file = path / "config.json" if path.is_dir() else path
    with config_file.open(encoding="utf-8") as fh:
        return model_from_hf_config(json.load(fh), name=str(path))


def resolve_model(name: str) -> ModelSpec:
    """Resolve what `vllm serve` was given: a catalogue id/alias/checkpoint or a local directory."""
    models = load_models()
    if name in models:
        return models[name]
    path = Path(name)
    if (path / "config.json").is_file():
        return load_hf_config(path)
    raise UnknownModelError(
        f"{name} is not a local folder and is not a valid model identifier listed on "
        "'https://huggingface.co/models' (vllm-sim knows: " + ", ".join(sorted(models)) + ")"
    )

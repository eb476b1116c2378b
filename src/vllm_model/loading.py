"""How long a vLLM server takes, at the least, from container start to serving: the floor a startup probe's
budget must clear.

    seconds = (checkpoint bytes / DOWNLOAD_BYTES_PER_S, when the weights are downloaded at this start)
              + weight bytes per GPU / LOAD_BYTES_PER_S   (safetensors from local disk into GPU memory)
              + ENGINE_START_S                            (CUDA init, memory profiling, CUDA graphs)

The rates are deliberately fast (a well-connected node, a warm torch.compile cache): the estimate is a
lower bound, so a budget below it cannot be enough, while a budget above it may still be too short on a
slow link. The chart refuses a startup probe that allows less (templates/_validate_sizing.tpl reads these
constants from files/sizing.yaml, written by `make generate`).
"""

from __future__ import annotations

from vllm_model.catalog import GIB

DOWNLOAD_BYTES_PER_S = 1 * GIB  # Hugging Face Hub (Xet) or an in-region bucket mirror at full speed
LOAD_BYTES_PER_S = 2 * GIB  # safetensors read from local NVMe / page cache into GPU memory, per GPU
ENGINE_START_S = 30  # torch + CUDA init, the profile run and CUDA graph capture, with warm compile caches


def load_seconds(checkpoint_bytes: int, weight_bytes_per_gpu: int, downloads: bool) -> float:
    """The least time from start to serving for a checkpoint of `checkpoint_bytes` sharded to
    `weight_bytes_per_gpu` per GPU; `downloads` when the weights are fetched at this start."""
    download = checkpoint_bytes / DOWNLOAD_BYTES_PER_S if downloads else 0.0
    return download + weight_bytes_per_gpu / LOAD_BYTES_PER_S + ENGINE_START_S

"""What the user asks the planner about: one deployment, from chart values and/or flags."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vllm_plan.chart_values import Values, dig
from vllm_plan.errors import PlanInputError


@dataclass(frozen=True)
class PlanRequest:
    """One deployment. `None` means "vLLM's default" (resolved by the shared memory model)."""

    model: str | None = None
    gpu: str | None = None
    gpu_count: int | None = None
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    dtype: str = "auto"
    quantization: str | None = None
    gpu_memory_utilization: float | None = None
    max_num_seqs: int | None = None
    block_size: int | None = None
    # vLLM's --num-gpu-blocks-override: the KV cache's block count, whatever the memory leaves (values: in
    # vllm.extraArgs, as the chart passes it)
    num_gpu_blocks_override: int | None = None
    context_length: int | None = None

    def overridden(self, **flags: Any) -> PlanRequest:
        """A copy with every flag that was given (not None) replacing the value-file setting."""
        return replace(self, **{k: v for k, v in flags.items() if v is not None})


# Chart key path -> (PlanRequest field, the type the chart's schema gives it), named as in values.yaml.
VALUES_KEYS: dict[tuple[str, ...], tuple[str, type]] = {
    ("model", "name"): ("model", str),
    ("model", "maxModelLen"): ("max_model_len", int),
    ("model", "dtype"): ("dtype", str),
    ("model", "quantization"): ("quantization", str),
    ("gpu", "type"): ("gpu", str),
    ("gpu", "count"): ("gpu_count", int),
    ("vllm", "tensorParallelSize"): ("tensor_parallel_size", int),
    ("vllm", "gpuMemoryUtilization"): ("gpu_memory_utilization", float),
    ("vllm", "maxNumSeqs"): ("max_num_seqs", int),
    ("vllm", "blockSize"): ("block_size", int),
}


def label(field: str) -> str:
    """How errors name a setting: its flag, and its chart values key when it has one."""
    flag = "--" + field.replace("_", "-")
    keys = [".".join(path) for path, (name, _) in VALUES_KEYS.items() if name == field]
    return f"{flag} (values: {keys[0]})" if keys else flag


def _checked(value: Any, wanted: type, key: str, where: str) -> Any:
    """Check a values setting's type; null and "" mean "unset" as in the chart."""
    if value is None or value == "":
        return None
    numeric = wanted is float and isinstance(value, int)
    if isinstance(value, bool) or not (isinstance(value, wanted) or numeric):
        raise PlanInputError(f"{where}: `{key}` must be of type {wanted.__name__}, got {value!r}")
    return value


# vLLM flags the chart has no key for, read from `vllm.extraArgs` (`--flag=N` or `--flag`, `N`): flag ->
# PlanRequest field.
EXTRA_ARGS: dict[str, str] = {"--num-gpu-blocks-override": "num_gpu_blocks_override"}


def _extra_args(values: Values, where: str) -> dict[str, Any]:
    """The EXTRA_ARGS settings of `vllm.extraArgs`; a value that is not a positive integer is refused."""
    args = [str(a) for a in dig(values, "vllm.extraArgs") or []]
    settings: dict[str, Any] = {}
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if flag not in EXTRA_ARGS:
            continue
        if not eq:
            value = args[i + 1] if i + 1 < len(args) else ""
        if not value.isdigit() or int(value) < 1:
            raise PlanInputError(f"{where}: `vllm.extraArgs` {flag} needs a positive integer, not {value!r}")
        settings[EXTRA_ARGS[flag]] = int(value)
    return settings


def request_from_values(values: Values, where: str) -> PlanRequest:
    """The deployment a (merged) values tree describes; `where` names its source in errors."""
    settings: dict[str, Any] = {}
    for key_path, (field, wanted) in VALUES_KEYS.items():
        value = _checked(dig(values, ".".join(key_path)), wanted, ".".join(key_path), where)
        if value is not None:
            settings[field] = value
    return PlanRequest(**{**settings, **_extra_args(values, where)})

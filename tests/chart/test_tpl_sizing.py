"""The chart's "does the model fit" check (templates/_validate_sizing.tpl) against the memory model it is
generated from: files/sizing.yaml holds the memory model's own figures (checked here through plan_memory,
not through the helpers the generator calls), and on a model x GPU x tensor-parallel grid the chart refuses
with its sizing message only where the memory model finds no room for one sequence either, and always
where weights, runtime overhead and one sequence's KV cache clearly exceed the budget."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart_harness.render import CHART_DIR, HelmFailed, render_chart
from vllm_model.catalog import load_gpus, load_models
from vllm_model.memory import NON_TORCH_BYTES, plan_memory

SIZING = yaml.safe_load(Path(CHART_DIR, "files", "sizing.yaml").read_text())
WITH_BF16 = next(k for k, g in load_gpus().items() if g.bf16)
WITHOUT_BF16 = next(k for k, g in load_gpus().items() if not g.bf16)
CANONICAL_DTYPES = ("float16", "bfloat16", "float32")
PROBLEM = re.compile(r"^  - (?P<text>.+)$", re.M)


@pytest.mark.parametrize("name", sorted(load_models()))
def test_every_catalogue_model_carries_the_memory_models_weights_and_kv_cache(name: str) -> None:
    spec = load_models()[name]
    row = SIZING["models"][name]
    arch = SIZING["architectures"][row["architecture"]]
    base = row["architecture"]  # the unquantized checkpoint of the same architecture
    assert (arch["attentionHeads"], arch["maxModelLen"]) == (
        spec.num_attention_heads,
        spec.max_position_embeddings,
    )
    assert row["quantization"] == spec.quantization
    assert row["autoDtype"] == {
        "withBf16": plan_memory(name, WITH_BF16, max_model_len=1).dtype,
        "withoutBf16": plan_memory(name, WITHOUT_BF16, max_model_len=1).dtype,
    }
    for fmt, by_dtype in arch["weightBytes"].items():
        quant = None if fmt == "unquantized" else fmt
        for dtype in CANONICAL_DTYPES:
            plan = plan_memory(base, WITH_BF16, dtype=dtype, quantization=quant, max_model_len=1)
            assert by_dtype[dtype] == plan.weights_bytes, (fmt, dtype)
    for tp, elements in arch["kvElementsPerToken"].items():
        plan = plan_memory(base, WITH_BF16, dtype="float16", tensor_parallel_size=int(tp), max_model_len=1)
        assert elements * 2 == plan.kv_bytes_per_token, tp


@pytest.mark.parametrize("key", sorted(load_gpus()))
def test_every_catalogue_gpu_carries_its_memory_capability_and_vllm_default_batch(key: str) -> None:
    gpu, row = load_gpus()[key], SIZING["gpus"][key]
    plan = plan_memory("Qwen/Qwen2.5-0.5B-Instruct", key, max_model_len=1)
    assert (row["memoryBytes"], row["memoryMiB"]) == (plan.gpu_memory_bytes, gpu.memory_mib)
    assert (row["capability"], row["bf16"]) == (gpu.capability_int, gpu.bf16)
    assert row["maxNumSeqs"] == plan.max_num_seqs


def test_the_chart_counts_no_more_runtime_overhead_than_the_memory_model() -> None:
    """Lenient by construction: the static overhead is a part of what vLLM reserves at every TP size."""
    for tp, overhead in SIZING["runtimeOverheadBytes"].items():
        plan = plan_memory("meta-llama/Llama-3.1-70B-Instruct", "H200", tensor_parallel_size=int(tp))
        assert 0 < overhead <= plan.overhead_bytes, tp
    assert SIZING["defaults"]["gpuMemoryUtilization"] == plan.gpu_memory_utilization


def _problems(values: dict[str, Any]) -> list[str]:
    """The chart's problems with these values: [] when it renders, its sentences when it refuses."""
    try:
        render_chart(values, show_only=["templates/service.yaml"])
    except HelmFailed as failed:
        problems = [m["text"] for m in PROBLEM.finditer(failed.stderr)]
        assert problems, f"helm failed without the chart's problem list:\n{failed.stderr}"
        return problems
    return []


def _sizing_refusals(problems: list[str], gpu: str) -> list[str]:
    return [p for p in problems if re.match(rf"model\.name \S+ \(.+\) does not fit gpu\.type {gpu}: ", p)]


MODELS = [
    "mistralai/Mistral-7B-Instruct-v0.2",
    "TheBloke/Mistral-7B-Instruct-v0.2-AWQ",
    "meta-llama/Llama-3.1-8B-Instruct",
    "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4",
    "neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8",
]
# `auto` everywhere at TP 1; `half` where it changes the answer (T4 has no bfloat16); the big models sharded.
GRID = [
    *((m, g, "auto", 1) for m, g in itertools.product(MODELS, sorted(load_gpus()))),
    *((m, "T4", "half", 1) for m in MODELS),
    *(
        (m, g, "auto", tp)
        for m, g, tp in itertools.product(
            ["meta-llama/Llama-3.1-70B-Instruct", "Qwen/Qwen2.5-72B-Instruct-AWQ"],
            ["A100-80GB", "H100-80GB"],
            [2, 4, 8],
        )
    ),
]


@pytest.mark.parametrize(
    ("model", "gpu", "dtype", "tp"), GRID, ids=[f"{m}-{g}-{d}-tp{tp}" for m, g, d, tp in GRID]
)
def test_chart_refuses_a_model_only_where_vllm_would_not_start(
    model: str, gpu: str, dtype: str, tp: int
) -> None:
    """Sound: every refusal is one vLLM makes too, and the sizing message only where the memory model finds
    no room for one 4096-token sequence either. Complete where it is clear: when the weights, the CUDA
    context and one sequence's KV cache already exceed the budget, the sizing message is there."""
    values = {
        "model": {"name": model, "maxModelLen": 4096, "dtype": dtype},
        "gpu": {"type": gpu},
        "vllm": {"tensorParallelSize": tp},
    }
    problems = _problems(values)
    sizing = _sizing_refusals(problems, gpu)
    plan = plan_memory(model, gpu, dtype=dtype, max_model_len=4096, tensor_parallel_size=tp)
    clearly_too_big = _clearly_too_big(model, gpu, dtype, tp)
    assert not problems or not plan.fits, f"chart refused what vLLM starts: {problems}"
    assert not sizing or plan.kv_tokens < 4096, f"chart says it does not fit, vLLM's arithmetic: {plan}"
    assert sizing or not clearly_too_big, f"chart accepted {plan.weights_bytes} B of weights: {problems}"


def _clearly_too_big(model: str, gpu: str, dtype: str, tp: int) -> bool:
    plan = plan_memory(model, gpu, dtype=dtype, max_model_len=4096, tensor_parallel_size=tp)
    return plan.weights_bytes + NON_TORCH_BYTES + 4096 * plan.kv_bytes_per_token > plan.budget_bytes


def test_the_grid_holds_clear_refusals_and_fits_both() -> None:
    """The grid proves something both ways: some of it clearly does not fit, some of it fits."""
    assert any(_clearly_too_big(*case) for case in GRID)
    assert any(
        plan_memory(m, g, dtype=d, max_model_len=4096, tensor_parallel_size=t).fits for m, g, d, t in GRID
    )


LLAMA_8B_64K_ON_L4 = {
    "model": {"name": "meta-llama/Llama-3.1-8B-Instruct", "maxModelLen": 65536},
    "gpu": {"type": "L4"},
}


@pytest.mark.parametrize(
    "extra_args", [["--kv-cache-dtype=fp8"], ["--kv-cache-dtype", "fp8"]], ids=["flag=value", "flag-value"]
)
def test_an_fp8_kv_cache_in_extra_args_halves_the_kv_cache_the_chart_reserves(extra_args: list[str]) -> None:
    """A 64k context of Llama 3.1 8B fits an L4 with an fp8 KV cache, not with a bf16 one: in vLLM's
    arithmetic and in the chart's, whichever way the flag is spelt."""
    assert plan_memory(
        "meta-llama/Llama-3.1-8B-Instruct", "L4", max_model_len=65536, kv_cache_dtype="fp8"
    ).fits
    assert not plan_memory("meta-llama/Llama-3.1-8B-Instruct", "L4", max_model_len=65536).fits
    assert _sizing_refusals(_problems(LLAMA_8B_64K_ON_L4), "L4")
    assert _problems({**LLAMA_8B_64K_ON_L4, "vllm": {"extraArgs": extra_args}}) == []


def test_the_recipe_mistral_fp16_on_t4_is_refused_by_both() -> None:
    values = {"model": {"name": "mistralai/Mistral-7B-Instruct-v0.2", "maxModelLen": 4096, "dtype": "half"}}
    problems = _problems({**values, "gpu": {"type": "T4"}})
    assert len(_sizing_refusals(problems, "T4")) == 1 == len(problems)
    assert "13.5 GiB of weights per GPU" in problems[0]
    assert not plan_memory("mistralai/Mistral-7B-Instruct-v0.2", "T4", dtype="half", max_model_len=4096).fits

"""The chart's sizing table (files/sizing.yaml) agrees with the simulator catalogue, and the chart's "does the
model fit" check never refuses what the simulator's memory model (vLLM's arithmetic) would start."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from chart_harness.render import CHART_DIR, HelmFailed, render_chart
from vllm_model.catalog import load_gpus, load_models, load_quantizations
from vllm_model.memory import NON_TORCH_BYTES, plan_memory

SIZING = yaml.safe_load(Path(CHART_DIR, "files", "sizing.yaml").read_text())


@pytest.mark.parametrize("name", sorted(load_models()))
def test_every_catalogue_model_has_the_same_figures_in_the_chart(name: str) -> None:
    spec = load_models()[name]
    row = SIZING["models"][name]
    assert row["params"] == spec.params
    assert row["embeddingParams"] == spec.embedding_params
    assert (row["layers"], row["kvHeads"], row["headDim"]) == (
        spec.num_layers,
        spec.num_kv_heads,
        spec.head_dim,
    )
    assert row["attentionHeads"] == spec.num_attention_heads
    assert row["maxLen"] == spec.max_position_embeddings
    assert row["dtype"] == spec.torch_dtype
    assert row["noKvCache"] == spec.encoder_only
    assert row.get("quantization") == spec.quantization


def test_the_chart_knows_exactly_the_catalogue_models() -> None:
    assert set(SIZING["models"]) == set(load_models())


@pytest.mark.parametrize("key", sorted(load_gpus()))
def test_every_catalogue_gpu_has_the_same_memory_in_the_chart(key: str) -> None:
    gpu = load_gpus()[key]
    row = SIZING["gpus"][key]
    assert (row["memoryMiB"], row["capability"], row["bf16"]) == (
        gpu.memory_mib,
        gpu.capability_int,
        gpu.bf16,
    )


def test_quantization_sizes_match_the_catalogue() -> None:
    quants = load_quantizations()
    assert set(SIZING["quantizations"]) == set(quants)
    for name, row in SIZING["quantizations"].items():
        q = quants[name]
        assert (row["bytesPerParam"], row["overhead"], row["minCapability"]) == (
            q.bytes_per_param,
            q.overhead,
            q.min_capability,
        ), name


MODELS = [
    "mistralai/Mistral-7B-Instruct-v0.2",
    "TheBloke/Mistral-7B-Instruct-v0.2-AWQ",
    "meta-llama/Llama-3.1-8B-Instruct",
    "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4",
    "neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8",
]
# `auto` everywhere; `half` where it changes the answer (T4 has no bfloat16).
GRID = [
    *itertools.product(MODELS, sorted(load_gpus()), ["auto"]),
    *itertools.product(MODELS, ["T4"], ["half"]),
]


def _chart_refuses(model: str, gpu: str, dtype: str) -> str | None:
    values = {"model": {"name": model, "maxModelLen": 4096, "dtype": dtype}, "gpu": {"type": gpu}}
    try:
        render_chart(values, show_only=["templates/service.yaml"])
    except HelmFailed as failed:
        return failed.stderr
    return None


@pytest.mark.parametrize(("model", "gpu", "dtype"), GRID, ids=["-".join(c) for c in GRID])
def test_chart_refuses_a_model_only_where_vllm_would_not_start(model: str, gpu: str, dtype: str) -> None:
    """Sound: a refusal means the memory model refuses too. Complete where it is clear: when the weights, the
    CUDA context and one 4096-token sequence's KV cache already exceed the budget, the chart refuses."""
    refusal = _chart_refuses(model, gpu, dtype)
    plan = plan_memory(model, gpu, dtype=dtype, max_model_len=4096)
    clearly_too_big = (
        plan.weights_bytes + NON_TORCH_BYTES + 4096 * plan.kv_bytes_per_token > plan.budget_bytes
    )
    assert refusal is None or not plan.fits, f"chart refused what vLLM starts:\n{refusal}"
    assert refusal is not None or not clearly_too_big, f"chart accepted {plan.weights_bytes} B of weights"


def test_the_recipe_mistral_fp16_on_t4_is_refused_by_both() -> None:
    refusal = _chart_refuses("mistralai/Mistral-7B-Instruct-v0.2", "T4", "half")
    assert refusal is not None and "does not fit gpu.type T4" in refusal
    assert not plan_memory("mistralai/Mistral-7B-Instruct-v0.2", "T4", dtype="half", max_model_len=4096).fits

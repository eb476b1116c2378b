"""The memory model: what fits where, and vLLM's refusals in vLLM's words."""

import json

import pytest

from vllm_model.catalog import UnknownModelError, load_gpus, load_models, resolve_model
from vllm_model.memory import plan_memory, scheduler_defaults

MISTRAL = "mistralai/Mistral-7B-Instruct-v0.2"


def test_kv_bytes_per_token_of_mistral_7b_in_fp16_is_128_kib():
    plan = plan_memory(MISTRAL, "L4", max_model_len=4096)
    assert plan.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2 == 128 * 1024


def test_mistral_7b_fp16_on_t4_at_0_9_refuses_with_no_memory_for_cache_blocks():
    plan = plan_memory(MISTRAL, "T4", dtype="half", max_model_len=4096, gpu_memory_utilization=0.9)
    assert not plan.fits
    assert plan.reason.startswith("No available memory for the cache blocks.")
    assert plan.kv_tokens == 0


def test_mistral_awq_on_t4_fits_and_holds_many_4k_sequences():
    plan = plan_memory("TheBloke/Mistral-7B-Instruct-v0.2-AWQ", "T4", dtype="half", max_model_len=4096)
    assert plan.fits, plan.reason
    assert plan.quantization == "awq"
    assert plan.weights_bytes < 4.5e9
    assert plan.max_concurrency > 10


def test_kv_tokens_are_whole_blocks_of_the_block_size():
    plan = plan_memory(MISTRAL, "L4", max_model_len=4096, block_size=16)
    assert plan.kv_tokens == plan.num_blocks * 16
    assert plan.kv_tokens * plan.kv_bytes_per_token <= plan.kv_budget_bytes


def test_default_max_model_len_of_llama_8b_on_l4_does_not_fit_and_suggests_a_length():
    plan = plan_memory("meta-llama/Llama-3.1-8B-Instruct", "L4")
    assert not plan.fits
    assert plan.max_model_len == 131072
    assert "max seq len (131072)" in plan.reason
    assert f"estimated maximum model length is {plan.kv_tokens}" in plan.reason
    assert plan_memory("meta-llama/Llama-3.1-8B-Instruct", "L4", max_model_len=plan.kv_tokens).fits


def test_bf16_on_t4_is_refused_but_auto_falls_back_to_fp16():
    refused = plan_memory("Qwen/Qwen2.5-0.5B-Instruct", "T4", dtype="bfloat16")
    assert refused.reason.startswith(
        "Bfloat16 is only supported on GPUs with compute capability of at least 8.0"
    )
    assert plan_memory("Qwen/Qwen2.5-0.5B-Instruct", "T4").dtype == "float16"


@pytest.mark.parametrize(("gpu", "fits"), [("T4", False), ("A100-80GB", True), ("L4", True)])
def test_fp8_needs_capability_8_0(gpu, fits):
    plan = plan_memory("neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", gpu, max_model_len=4096)
    assert plan.fits is fits
    if not fits:
        assert "The quantization method fp8 is not supported for the current GPU" in plan.reason


def test_tensor_parallel_size_must_divide_attention_heads():
    plan = plan_memory("Qwen/Qwen2.5-7B-Instruct", "L4", tensor_parallel_size=8, max_model_len=4096)
    assert (
        plan.reason == "Total number of attention heads (28) must be divisible by tensor parallel size (8)."
    )


def test_tensor_parallel_beyond_kv_heads_replicates_them():
    plan = plan_memory("Qwen/Qwen2.5-0.5B-Instruct", "L4", tensor_parallel_size=7, max_model_len=4096)
    assert plan.fits
    assert plan.kv_bytes_per_token == 2 * 24 * 1 * 64 * 2


def test_tensor_parallel_splits_weights_so_70b_fits_four_h100s_but_not_one():
    one = plan_memory("meta-llama/Llama-3.1-70B-Instruct", "H100-80GB", max_model_len=8192)
    four = plan_memory(
        "meta-llama/Llama-3.1-70B-Instruct", "H100-80GB", max_model_len=8192, tensor_parallel_size=4
    )
    assert one.error_type == "torch.OutOfMemoryError"
    assert four.fits
    assert four.weights_bytes == pytest.approx(one.weights_bytes / 4, rel=0.01)


def test_world_size_over_visible_gpus_is_refused():
    plan = plan_memory("Qwen/Qwen2.5-0.5B-Instruct", "L4", tensor_parallel_size=2, gpu_count=1)
    assert plan.reason.startswith("World size (2) is larger than the number of available GPUs (1)")


def test_max_model_len_over_the_models_limit_is_refused():
    plan = plan_memory("Qwen/Qwen2.5-0.5B-Instruct", "L4", max_model_len=65536)
    assert "User-specified max_model_len (65536) is greater than the derived max_model_len" in plan.reason


@pytest.mark.parametrize(("gpu", "fits"), [("T4", False), ("L4", True)])
def test_marlin_kernels_load_awq_checkpoints_but_need_capability_8_0(gpu, fits):
    plan = plan_memory(
        "TheBloke/Mistral-7B-Instruct-v0.2-AWQ",
        gpu,
        quantization="awq_marlin",
        dtype="half",
        max_model_len=4096,
    )
    assert plan.fits is fits
    if not fits:
        assert "The quantization method awq_marlin is not supported for the current GPU" in plan.reason


def test_quantization_flag_must_match_the_checkpoint():
    plan = plan_memory("TheBloke/Mistral-7B-Instruct-v0.2-AWQ", "L4", quantization="gptq", max_model_len=4096)
    assert (
        "does not match the quantization method specified in the `quantization` argument (gptq)"
        in plan.reason
    )


def test_higher_utilization_and_fp8_kv_cache_both_grow_the_cache():
    base = plan_memory(MISTRAL, "L4", max_model_len=4096)
    assert (
        plan_memory(MISTRAL, "L4", max_model_len=4096, gpu_memory_utilization=0.95).kv_tokens > base.kv_tokens
    )
    fp8 = plan_memory(MISTRAL, "L4", max_model_len=4096, kv_cache_dtype="fp8")
    assert fp8.kv_bytes_per_token * 2 == base.kv_bytes_per_token


def test_encoder_embedding_model_keeps_no_kv_cache():
    plan = plan_memory("BAAI/bge-base-en-v1.5", "T4")
    assert plan.fits and plan.kv_bytes_per_token == 0


def test_scheduler_defaults_are_bigger_on_large_non_a100_cards():
    gpus = load_gpus()
    assert scheduler_defaults(gpus["H100-80GB"]) == (1024, 8192)
    assert scheduler_defaults(gpus["A100-80GB"]) == (256, 2048)
    assert scheduler_defaults(gpus["L4"]) == (256, 2048)


def test_every_catalogued_model_fits_somewhere_it_should():
    models = load_models()
    assert "Qwen/Qwen2.5-0.5B-Instruct" in models
    for name, spec in models.items():
        assert spec.num_attention_heads % spec.num_kv_heads == 0, name
        assert spec.params > spec.embedding_params, name


def test_local_hf_config_json_becomes_a_model_entry(tmp_path):
    config = {
        "architectures": ["MistralForCausalLM"],
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "num_key_value_heads": 8,
        "vocab_size": 32000,
        "max_position_embeddings": 32768,
        "torch_dtype": "bfloat16",
        "tie_word_embeddings": False,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    spec = resolve_model(str(tmp_path))
    catalogued = load_models()[MISTRAL]
    assert spec.params == pytest.approx(catalogued.params, rel=0.01)
    assert spec.head_dim == 128 and spec.num_kv_heads == 8


def test_unknown_model_names_the_model():
    with pytest.raises(UnknownModelError, match="not-a/model"):
        resolve_model("not-a/model")


def test_awq_flag_on_an_unquantized_checkpoint_is_refused_but_fp8_quantizes_on_load():
    awq = plan_memory(MISTRAL, "L4", quantization="awq", max_model_len=4096)
    assert awq.reason == "Cannot find the config file for awq"
    fp8 = plan_memory(MISTRAL, "L4", quantization="fp8", max_model_len=4096)
    assert fp8.fits and fp8.weights_bytes < 0.6 * plan_memory(MISTRAL, "L4", max_model_len=4096).weights_bytes


def test_allow_long_max_model_len_lifts_the_models_limit():
    plan = plan_memory("Qwen/Qwen2.5-0.5B-Instruct", "L4", max_model_len=65536, allow_long_max_model_len=True)
    assert plan.fits and plan.max_model_len == 65536


def test_kv_cache_memory_bytes_and_block_override_size_the_cache_directly():
    sized = plan_memory(MISTRAL, "L4", max_model_len=4096, kv_cache_memory_bytes=2 * 2**30)
    assert sized.kv_tokens == 2 * 2**30 // (128 * 1024)
    override = plan_memory(MISTRAL, "L4", max_model_len=4096, num_gpu_blocks_override=300)
    assert (override.num_blocks, override.kv_tokens) == (300, 4800)

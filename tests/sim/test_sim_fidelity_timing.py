"""The timing model's physics, term by term, and the catalogue and parameter table it reads."""

from __future__ import annotations

import json

import pytest
import yaml

from vllm_model.catalog import get_gpu, load_hf_config, load_models, resolve_model
from vllm_model.hf_config import spec_fields
from vllm_model.memory import plan_memory
from vllm_model.timing import TimingModel
from vllm_model.timing_params import TIMING_FILE, load_timing_params, parse

LLAMA8 = "meta-llama/Llama-3.1-8B-Instruct"
MIXTRAL = "mistralai/Mixtral-8x7B-v0.1"


def timing(model: str, gpu: str = "H100", tp: int = 1, **kw: object) -> TimingModel:
    spec, card = resolve_model(model), get_gpu(gpu)
    plan = plan_memory(spec, card, tensor_parallel_size=tp, max_model_len=4096, **kw)
    assert plan.fits, plan.reason
    return TimingModel.build(spec, card, plan)


def decode(t: TimingModel, batch: int, context: int = 600) -> float:
    return t.step_seconds(batch, batch * context, batch * context, batch)


def test_a_decode_step_streams_every_weight_but_the_embedding_table_once():
    t = timing(LLAMA8)
    spec = resolve_model(LLAMA8)
    assert t.dense_bytes == pytest.approx((spec.params - spec.vocab_size * spec.hidden_size) * 2)
    one, batch = decode(t, 1), decode(t, 32)
    assert batch < 1.5 * one  # 32 sequences share one pass over the weights
    assert decode(t, 64) > batch  # ... but each reads its own KV cache


def test_the_kv_cache_streams_at_the_weights_bandwidth():
    t = timing(LLAMA8)
    longer = decode(t, 8, 1600) - decode(t, 8, 600)
    assert longer == pytest.approx(8 * 1000 * t.kv_bytes_per_token / t.weight_bandwidth, rel=1e-9)


def test_a_decode_gemm_shows_lambda_of_its_math_beside_the_weight_stream():
    t = timing(LLAMA8)
    params = load_timing_params()
    assert t.gemm_exposed == params.gemm_exposed_fraction > 0

    def math_s(batch: int) -> float:
        return (t.flops_per_token + t.lm_head_flops) * batch / t.flops

    one, batch = t.step_seconds(1, 0, 0, 1), t.step_seconds(64, 0, 0, 64)
    assert t.dense_bytes / t.weight_bandwidth > math_s(64)  # still weight-bound at 64 sequences
    assert batch - one == pytest.approx(t.gemm_exposed * (math_s(64) - math_s(1)), rel=1e-9)


def test_prefill_is_compute_bound_and_grows_with_the_chunk():
    t = timing(LLAMA8, max_num_batched_tokens=8192)
    half, full = t.step_seconds(2048, 2048 * 1024, 2048, 1), t.step_seconds(4096, 4096 * 2048, 4096, 1)
    assert full > 1.8 * half > 5 * decode(t, 1)


def test_a_moe_step_reads_only_the_experts_its_tokens_use():
    t = timing(MIXTRAL, tp=2)
    spec = resolve_model(MIXTRAL)
    assert t.experts_touched(1) == pytest.approx(2.0)  # top-2 of 8
    assert t.experts_touched(4) < t.experts_touched(16) < 8.0
    assert t.experts_touched(256) == pytest.approx(8.0, abs=1e-6)
    assert decode(t, 1) < decode(t, 16)  # more tokens, more experts streamed
    # FLOPs count the two active experts; memory holds all eight.
    active = spec.params - spec.routed_expert_params + spec.moe_layers * 2 * spec.expert_params
    assert t.flops_per_token == pytest.approx(2 * (active - spec.embedding_params) / 2)
    plan = plan_memory(spec, get_gpu("H100"), tensor_parallel_size=2, max_model_len=4096)
    assert plan.weights_bytes == pytest.approx(spec.params * 2 / 2, rel=0.001)


def test_tensor_parallel_all_reduce_grows_with_the_group_the_tokens_and_a_slower_link():
    small = timing("meta-llama/Llama-3.1-70B-Instruct", "H100", tp=4)
    big = timing("meta-llama/Llama-3.1-70B-Instruct", "H100", tp=8)
    pcie = timing("meta-llama/Llama-3.1-70B-Instruct", "L40S", tp=4, quantization="fp8")
    assert timing(LLAMA8).allreduces == 0
    assert small.allreduces == 2 * 80
    assert big.allreduce_latency_s > small.allreduce_latency_s
    assert pcie.allreduce_latency_s > small.allreduce_latency_s
    assert pcie.link_bandwidth < small.link_bandwidth

    def comm(t: TimingModel, tokens: int) -> float:
        return t.allreduces * (
            t.allreduce_latency_s + tokens * t.allreduce_bytes_per_token / t.link_bandwidth
        )

    assert comm(small, 2048) > 2 * comm(small, 1)


def test_a_step_off_full_cuda_graphs_pays_eager_attention_per_layer():
    dense, scout = timing(LLAMA8), timing("RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic", tp=2)
    prefill_in_batch = dense.step_seconds(8 + 7, 8 * 600 + 7 * 300, 8 * 600 + 300, 9)
    same_work_as_decodes = dense.step_seconds(15, 8 * 600 + 7 * 300, 8 * 600 + 300, 15)
    assert prefill_in_batch - same_work_as_decodes == pytest.approx(dense.eager_s, rel=0.01)
    assert not scout.full_graph_decode  # chunked local attention: every step runs piecewise
    assert dense.full_graph_decode


def test_fp8_checkpoints_halve_the_weights_read_and_use_the_fp8_peak():
    bf16, fp8 = (
        timing("meta-llama/Llama-3.1-70B-Instruct", tp=4),
        timing("neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8", tp=4),
    )
    assert fp8.dense_bytes < 0.55 * bf16.dense_bytes
    assert fp8.flops == pytest.approx(2 * bf16.flops, rel=0.01)  # 1979 vs 2 x 989 TFLOP/s


def test_the_api_server_time_is_a_per_request_figure_of_the_gpus_host():
    params = load_timing_params()
    assert timing(LLAMA8).api_seconds == pytest.approx(params.gpu("H100-80GB").api_server_ms / 1e3)
    turing = timing("Qwen/Qwen2.5-0.5B-Instruct", "T4", dtype="half")  # no Turing GPU is calibrated
    assert turing.api_seconds == pytest.approx(params.default_gpu.api_server_ms / 1e3)


def test_timing_yaml_is_exactly_what_the_fit_writer_writes():
    text = TIMING_FILE.read_text(encoding="utf-8")
    assert parse(text).dump() == text


def test_an_uncalibrated_gpu_takes_its_generations_calibration_else_the_mean():
    params = load_timing_params()
    assert params.gpu("H200") == params.gpu("H100-80GB")  # Hopper
    assert params.gpu("L4") == params.gpu("L40S")  # Ada
    fitted = [g.weight_bandwidth_efficiency for g in params.gpus.values()]
    assert params.gpu("T4").weight_bandwidth_efficiency == pytest.approx(sum(fitted) / len(fitted), abs=1e-3)


@pytest.mark.parametrize(
    ("config", "catalogued"),
    [
        (
            {
                "architectures": ["MixtralForCausalLM"],
                "hidden_size": 4096,
                "intermediate_size": 14336,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "vocab_size": 32000,
                "max_position_embeddings": 32768,
                "num_local_experts": 8,
                "num_experts_per_tok": 2,
                "torch_dtype": "bfloat16",
            },
            MIXTRAL,
        ),
        (
            {
                "architectures": ["Qwen3MoeForCausalLM"],
                "hidden_size": 2048,
                "intermediate_size": 6144,
                "moe_intermediate_size": 768,
                "num_hidden_layers": 48,
                "num_attention_heads": 32,
                "num_key_value_heads": 4,
                "head_dim": 128,
                "vocab_size": 151936,
                "max_position_embeddings": 40960,
                "num_experts": 128,
                "num_experts_per_tok": 8,
                "decoder_sparse_step": 1,
                "mlp_only_layers": [],
                "torch_dtype": "bfloat16",
            },
            "Qwen/Qwen3-30B-A3B",
        ),
        (
            {
                "architectures": ["Llama4ForConditionalGeneration"],
                "torch_dtype": "bfloat16",
                "text_config": {
                    "model_type": "llama4_text",
                    "hidden_size": 5120,
                    "intermediate_size": 8192,
                    "intermediate_size_mlp": 16384,
                    "num_hidden_layers": 48,
                    "num_attention_heads": 40,
                    "num_key_value_heads": 8,
                    "head_dim": 128,
                    "vocab_size": 202048,
                    "max_position_embeddings": 10485760,
                    "num_local_experts": 16,
                    "num_experts_per_tok": 1,
                    "interleave_moe_layer_step": 1,
                    "attention_chunk_size": 8192,
                },
                "vision_config": {"hidden_size": 1408, "intermediate_size": 5632, "num_hidden_layers": 34},
            },
            "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        ),
    ],
)
def test_an_hf_config_json_gives_the_catalogued_moe_shapes(tmp_path, config, catalogued):
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded, known = load_hf_config(tmp_path), load_models()[catalogued]
    for field in (
        "num_experts",
        "num_experts_per_tok",
        "moe_layers",
        "expert_params",
        "attention_chunk_size",
    ):
        assert getattr(loaded, field) == getattr(known, field), field
    assert loaded.shared_expert_intermediate_size == known.shared_expert_intermediate_size
    assert loaded.params == pytest.approx(known.params, rel=0.001)
    assert loaded.token_params == pytest.approx(known.token_params, rel=0.01)


def test_interleaved_and_dense_first_moe_layouts_count_their_moe_layers():
    base = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 8, "vocab_size": 1000}
    maverick = spec_fields(
        {**base, "num_local_experts": 128, "num_experts_per_tok": 1, "interleave_moe_layer_step": 2}
    )
    deepseek = spec_fields(
        {**base, "n_routed_experts": 64, "num_experts_per_tok": 6, "first_k_dense_replace": 1}
    )
    qwen = spec_fields({**base, "num_experts": 60, "num_experts_per_tok": 4, "mlp_only_layers": [0, 1]})
    assert (maverick["num_moe_layers"], deepseek["num_moe_layers"], qwen["num_moe_layers"]) == (12, 23, 22)
    assert spec_fields(base)["num_experts"] == 0 and spec_fields(base)["num_moe_layers"] is None


def test_every_calibration_gpu_resolves_by_its_short_name():
    assert get_gpu("H100").key == "H100-80GB"
    assert get_gpu("A100").key == "A100-80GB"
    l40s = get_gpu("L40S")
    assert (l40s.memory_mib, l40s.bandwidth_gbps, l40s.fp16_tflops, l40s.fp8_tflops) == (46068, 864, 362, 733)
    assert l40s.capability_int == 89


def _flatten(prefix: str, value: object) -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flatten(f"{prefix}{k}.", v)]
    return [(prefix.rstrip("."), value)]


def test_the_docs_parameter_table_lists_every_value_of_timing_yaml():
    docs = (TIMING_FILE.parents[3] / "docs" / "simulator.md").read_text(encoding="utf-8")
    values = _flatten("", yaml.safe_load(TIMING_FILE.read_text(encoding="utf-8")))
    missing = [f"{k} = {v}" for k, v in values if f"| `{k}` | {v:.4g} |" not in docs]
    assert not missing, f"docs/simulator.md's timing table lacks or misstates: {missing}"

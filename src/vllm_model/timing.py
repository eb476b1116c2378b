"""Timing of one engine step, from the bytes it moves and the FLOPs it does, per GPU of the TP group.

A step runs some new tokens: prefill chunks and one token per decoding sequence. Its time is

    stream, math = weight bytes read / (HBM bandwidth x eta_w),  GEMM FLOPs / (peak x eta_f)
    linear    = max(stream, math) + lambda x min(stream, math)
    attention = max(KV bytes read / (HBM bandwidth x eta_w),  attention FLOPs / (peak x eta_f))
    comm      = 2 x layers x (peer latency x (TP - 1) + 2 (TP - 1)/TP x tokens x hidden x bytes / link)
    step      = linear + attention + comm + fixed overhead (+ eager attention per layer off full graphs)

- Weights read: every weight a token passes through, once per step however many tokens share it (so a
  batch of decodes costs about one: continuous batching); the embedding table is a gather of a few rows,
  never read whole, while the lm_head is. A mixture of experts reads only the experts its tokens were
  routed to: with T tokens each picking k of E experts, E x (1 - (1 - k/E)^T) per layer; its FLOPs count
  the k active experts, its memory (memory.py) every expert.
- A GEMM overlaps its weight loads with its math only partly (tiles wait on loads, waves end ragged):
  lambda of the shorter of the two shows. It is what makes a decode step grow with the batch before the
  math bound is reached, in proportion to the model's FLOPs per token.
- The paged KV cache is streamed like the weights, at the same achieved bandwidth (one HBM, one kind of
  read: a long-context MHA model, Llama-2-7b, shows it).
- Tensor parallelism splits weights, KV heads and FLOPs over TP GPUs and adds two all-reduces per layer
  (after attention and after the MLP): a latency per peer on the interconnect plus the ring volume.
- vLLM V1 replays a full CUDA graph for a step of pure decodes; a step with a prefill chunk runs piecewise
  graphs with attention launched eagerly per layer, as does every step of a model whose attention cannot
  be captured whole (Llama 4's chunked local attention).
- The API server's time per request (`api_seconds`) is not part of a step: replay adds it to TTFT and E2E.

Parameters (eta_w and the API time per GPU, lambda, the overheads, the all-reduce latency per
interconnect) live in catalog/timing.yaml (timing_params.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm_model.catalog import GpuSpec, ModelSpec, dtype_bytes, load_quantizations
from vllm_model.memory import MemoryPlan
from vllm_model.timing_params import TimingParams, load_timing_params

FP8_BYTES = 1.0  # a quantization storing one byte per weight computes in FP8 where the GPU has FP8 cores


@dataclass(frozen=True)
class TimingModel:
    dense_bytes: float  # per GPU: weights every step reads (attention, dense MLPs, shared experts, lm_head)
    expert_bytes: float  # per GPU: one routed expert in every MoE layer
    num_experts: int
    experts_per_token: int
    kv_bytes_per_token: int  # per GPU
    weight_bandwidth: float  # bytes/s one GPU streams weights at
    flops: float  # FLOP/s one GPU reaches in a prefill's GEMMs
    flops_per_token: float  # per GPU: 2 x parameters a token multiplies through (lm_head excluded)
    lm_head_flops: float  # per GPU, per sequence that samples a token
    attn_flops_per_pair: float  # per GPU, per (query token, context token) pair
    allreduces: int  # per step (0 without tensor parallelism)
    allreduce_latency_s: float
    allreduce_bytes_per_token: float  # ring volume one GPU sends per token per all-reduce
    link_bandwidth: float
    step_overhead_s: float
    gemm_exposed: float  # share of the shorter of weight streaming and GEMM math not hidden under the longer
    eager_s: float  # per step run off full CUDA graphs (layers x per-layer eager cost)
    full_graph_decode: bool  # pure-decode steps replay a full CUDA graph
    api_seconds: float  # per request, outside the engine (on TTFT and E2E)

    @classmethod
    def build(
        cls, model: ModelSpec, gpu: GpuSpec, plan: MemoryPlan, params: TimingParams | None = None
    ) -> TimingModel:
        p = params or load_timing_params()
        tp, pp = plan.tensor_parallel_size, plan.pipeline_parallel_size
        act = dtype_bytes(plan.dtype)
        quant = load_quantizations()[plan.quantization] if plan.quantization else None
        body_bytes = quant.bytes_per_param * (1 + quant.overhead) if quant else float(act)
        fp8 = quant is not None and quant.bytes_per_param == FP8_BYTES and gpu.fp8_tflops is not None
        peak = (gpu.fp8_tflops if fp8 and gpu.fp8_tflops else gpu.fp16_tflops) * 1e12
        # Pipeline stages run one after another: a step streams every stage's weights in sequence.
        shards = tp
        body = model.params - model.vision_params - model.embedding_params - model.routed_expert_params
        gpu_params = p.gpu(gpu.key)
        weight_bw = gpu.bandwidth_gbps * 1e9 * gpu_params.weight_bandwidth_efficiency
        layers = model.num_layers
        latency = p.latency_us(gpu.interconnect) * 1e-6 * (tp - 1)
        return cls(
            dense_bytes=(body * body_bytes + model.lm_head_params * act) / shards,
            expert_bytes=model.moe_layers * model.expert_params * body_bytes / shards,
            num_experts=model.num_experts,
            experts_per_token=model.num_experts_per_tok,
            kv_bytes_per_token=plan.kv_bytes_per_token * pp,
            weight_bandwidth=weight_bw,
            flops=peak * p.prefill_compute_efficiency,
            flops_per_token=2 * model.token_params / shards,
            lm_head_flops=2 * model.lm_head_params / shards,
            attn_flops_per_pair=4 * layers * model.num_attention_heads * model.head_dim / shards,
            allreduces=2 * layers if tp > 1 else 0,
            allreduce_latency_s=latency,
            allreduce_bytes_per_token=2 * (tp - 1) / tp * model.hidden_size * act,
            link_bandwidth=p.link_bandwidth(gpu.interconnect),
            step_overhead_s=p.step_overhead_ms * 1e-3,
            gemm_exposed=p.gemm_exposed_fraction,
            eager_s=p.eager_layer_us * 1e-6 * layers,
            full_graph_decode=not model.attention_chunk_size,
            api_seconds=gpu_params.api_server_ms * 1e-3,
        )

    @property
    def min_step_seconds(self) -> float:
        """No step takes less than this (every other term is >= 0)."""
        return self.step_overhead_s

    def experts_touched(self, tokens: int) -> float:
        """Expected distinct experts per MoE layer that `tokens` tokens are routed to (uniform routing)."""
        if not self.num_experts:
            return 0.0
        return self.num_experts * (1.0 - (1.0 - self.experts_per_token / self.num_experts) ** tokens)

    def step_seconds(self, new_tokens: int, context_pairs: int, kv_tokens_read: int, num_seqs: int) -> float:
        """Model time of one step (seconds at VLLM_SIM_TIME_SCALE=1).

        `new_tokens` the step computes, `context_pairs` (query, context) token pairs its attention scores,
        `kv_tokens_read` KV-cache tokens its attention reads, `num_seqs` sequences in the batch (each
        samples at most one token); a step where every sequence brings one token is a pure decode step.
        """
        weights = self.dense_bytes + self.experts_touched(new_tokens) * self.expert_bytes
        gemm_flops = self.flops_per_token * new_tokens + self.lm_head_flops * num_seqs
        stream, math = weights / self.weight_bandwidth, gemm_flops / self.flops
        linear = max(stream, math) + self.gemm_exposed * min(stream, math)
        attention = max(
            kv_tokens_read * self.kv_bytes_per_token / self.weight_bandwidth,
            self.attn_flops_per_pair * context_pairs / self.flops,
        )
        comm = self.allreduces * (
            self.allreduce_latency_s + new_tokens * self.allreduce_bytes_per_token / self.link_bandwidth
        )
        eager = 0.0 if self.full_graph_decode and new_tokens <= num_seqs else self.eager_s
        return linear + attention + comm + self.step_overhead_s + eager

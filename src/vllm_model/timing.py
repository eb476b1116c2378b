"""Roofline timing of one engine step: prefill is compute-bound, decode is memory-bound.

A step processes some new tokens (prefill chunks and one token per decoding sequence). Its time is

    max(compute, memory) + fixed step overhead
    compute = (2 x params x new tokens + attention FLOPs) / (peak FLOP/s x TP x MFU x TP efficiency)
    memory  = (weights per GPU x PP + KV bytes read per GPU) / (HBM bandwidth x efficiency)

so a batch of decodes costs about as much as one (the weights are read once per step), which is the
whole reason continuous batching wins, and a long prompt costs in proportion to its length.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm_model.catalog import GpuSpec, ModelSpec
from vllm_model.memory import MemoryPlan

MFU = 0.5  # fraction of the dense peak a prefill reaches
BANDWIDTH_EFFICIENCY = 0.8
TP_EFFICIENCY = 0.85  # tensor-parallel scaling loss beyond one GPU
ALLREDUCE_S = 10e-6  # per all-reduce; two per layer with TP > 1
STEP_OVERHEAD_S = 1.5e-3  # scheduling, sampling, kernel launches (CUDA graphs)
PER_SEQ_OVERHEAD_S = 10e-6


@dataclass(frozen=True)
class TimingModel:
    flops: float  # effective FLOP/s of the whole instance
    bandwidth: float  # effective bytes/s of one GPU
    params: int
    weights_read_bytes: int  # weights streamed from HBM per step, per GPU (x PP stages in sequence)
    kv_bytes_per_token: int  # per GPU
    attn_flops_per_pair: int  # FLOPs per (query token, context token) pair
    fixed_s: float

    @classmethod
    def build(cls, model: ModelSpec, gpu: GpuSpec, plan: MemoryPlan) -> TimingModel:
        tp, pp = plan.tensor_parallel_size, plan.pipeline_parallel_size
        peak = gpu.fp8_tflops if plan.quantization == "fp8" and gpu.fp8_tflops else gpu.fp16_tflops
        scaling = TP_EFFICIENCY if tp > 1 else 1.0
        comm = 2 * model.num_layers * ALLREDUCE_S if tp > 1 else 0.0
        return cls(
            flops=peak * 1e12 * tp * MFU * scaling,
            bandwidth=gpu.bandwidth_gbps * 1e9 * BANDWIDTH_EFFICIENCY,
            params=model.params,
            weights_read_bytes=plan.weights_bytes * pp,
            kv_bytes_per_token=plan.kv_bytes_per_token,
            attn_flops_per_pair=4 * model.num_layers * model.num_attention_heads * model.head_dim,
            fixed_s=STEP_OVERHEAD_S + comm,
        )

    def step_seconds(self, new_tokens: int, context_pairs: int, kv_tokens_read: int, num_seqs: int) -> float:
        """Model time of one step (seconds at VLLM_SIM_TIME_SCALE=1)."""
        compute = (2 * self.params * new_tokens + self.attn_flops_per_pair * context_pairs) / self.flops
        memory = (self.weights_read_bytes + kv_tokens_read * self.kv_bytes_per_token) / self.bandwidth
        return max(compute, memory) + self.fixed_s + PER_SEQ_OVERHEAD_S * num_seqs

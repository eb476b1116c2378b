"""Read a Hugging Face `config.json` into the fields of a ModelSpec: shapes, and mixture-of-experts layout.

Dense decoders (Llama, Mistral, Qwen), BERT-style encoders, and the MoE spellings of the families vLLM
serves: Mixtral/Granite/gpt-oss (`num_local_experts`), Qwen2/3-MoE and OLMoE (`num_experts`,
`moe_intermediate_size`, `shared_expert_intermediate_size`, `decoder_sparse_step`, `mlp_only_layers`),
DeepSeek (`n_routed_experts`, `n_shared_experts`, `first_k_dense_replace`, `moe_layer_freq`) and Llama 4
(`text_config`, `interleave_moe_layer_step`, `intermediate_size_mlp`, one shared expert, a vision tower).
The parameter count is estimated from the shapes; it is within a few percent of the published totals.
Multi-head latent attention (DeepSeek's compressed KV) is read as ordinary attention: its KV cache is not
modelled.
"""

from __future__ import annotations

from typing import Any


def _int(cfg: dict[str, Any], *keys: str, default: int = 0) -> int:
    """The first of `keys` the config sets (a null counts as unset)."""
    for key in keys:
        if cfg.get(key) is not None:
            return int(cfg[key])
    return default


def _moe_layer_count(cfg: dict[str, Any], layers: int) -> int:
    """How many decoder layers carry a MoE block, in each family's own spelling."""
    if isinstance(cfg.get("moe_layers"), list):  # Llama 4 configs list them
        return len(cfg["moe_layers"])
    if "interleave_moe_layer_step" in cfg:  # Llama 4: every step-th layer
        step = max(1, _int(cfg, "interleave_moe_layer_step", default=1))
        return sum(1 for i in range(layers) if (i + 1) % step == 0)
    if "first_k_dense_replace" in cfg or "moe_layer_freq" in cfg:  # DeepSeek
        first, freq = _int(cfg, "first_k_dense_replace"), max(1, _int(cfg, "moe_layer_freq", default=1))
        return sum(1 for i in range(first, layers) if i % freq == 0)
    dense_only = set(cfg.get("mlp_only_layers") or [])  # Qwen MoE
    step = max(1, _int(cfg, "decoder_sparse_step", default=1))
    return sum(1 for i in range(layers) if i not in dense_only and (i + 1) % step == 0)


def _vision_params(config: dict[str, Any]) -> int:
    """A ViT-style tower: attention (4 h^2) and MLP (2 h x intermediate) per layer."""
    vision = config.get("vision_config")
    if not isinstance(vision, dict) or "hidden_size" not in vision:
        return 0
    hidden = int(vision["hidden_size"])
    inter = _int(vision, "intermediate_size", default=4 * hidden)
    return _int(vision, "num_hidden_layers", "depth") * (4 * hidden * hidden + 2 * hidden * inter)


def spec_fields(config: dict[str, Any]) -> dict[str, Any]:
    """Every ModelSpec field but the name, from a parsed config.json."""
    cfg = config.get("text_config", config)
    layers = int(cfg["num_hidden_layers"])
    hidden = int(cfg["hidden_size"])
    heads = int(cfg["num_attention_heads"])
    kv = _int(cfg, "num_key_value_heads", default=heads)
    hd = _int(cfg, "head_dim", default=hidden // heads)
    inter = _int(cfg, "intermediate_size", default=4 * hidden)
    vocab = int(cfg["vocab_size"])
    tied = bool(cfg.get("tie_word_embeddings", config.get("tie_word_embeddings", False)))
    archs = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    encoder = any(a.startswith(("Bert", "XLMRoberta", "Roberta")) for a in archs)
    embed_task = encoder or any(a.endswith("Model") and not a.endswith("ForCausalLM") for a in archs)

    experts = _int(cfg, "num_local_experts", "num_experts", "n_routed_experts")
    top_k = _int(cfg, "num_experts_per_tok", "experts_per_token", "moe_topk") if experts else 0
    moe_layers = _moe_layer_count(cfg, layers) if experts else 0
    expert_width = _int(cfg, "moe_intermediate_size", default=inter) if experts else 0
    shared_width = 0
    if experts:
        shared_width = _int(cfg, "shared_expert_intermediate_size")
        shared_width = shared_width or _int(cfg, "n_shared_experts") * expert_width
        if cfg.get("model_type") == "llama4_text" or any(a.startswith("Llama4") for a in archs):
            shared_width = expert_width  # Llama 4: one shared expert as wide as a routed one
    dense_width = _int(cfg, "intermediate_size_mlp", default=inter)

    attn = hidden * heads * hd * 2 + hidden * kv * hd * 2
    mlp_factor = 2 if encoder else 3  # gated (SwiGLU) decoders have gate, up and down projections
    dense_mlp = hidden * dense_width * mlp_factor
    moe = experts * 3 * hidden * expert_width + 3 * hidden * shared_width + hidden * experts
    vision = _vision_params(config)
    params = (
        layers * attn
        + (layers - moe_layers) * dense_mlp
        + moe_layers * moe
        + vocab * hidden * (1 if tied else 2)
        + vision
    )
    quant = (config.get("quantization_config") or {}).get("quant_method")
    return {
        "params": params,
        "num_layers": layers,
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_attention_heads": heads,
        "num_kv_heads": kv,
        "head_dim": hd,
        "vocab_size": vocab,
        "max_position_embeddings": _int(cfg, "max_position_embeddings", default=2048),
        "torch_dtype": str(
            cfg.get("torch_dtype") or config.get("torch_dtype") or cfg.get("dtype") or "float32"
        ),
        "tie_word_embeddings": tied,
        "task": "embed" if embed_task else "generate",
        "encoder_only": encoder,
        "embedding_dim": hidden if embed_task else None,
        "quantization": quant,
        "num_experts": experts,
        "num_experts_per_tok": top_k,
        "moe_intermediate_size": expert_width if expert_width != inter else 0,
        "shared_expert_intermediate_size": shared_width,
        "num_moe_layers": moe_layers if experts and moe_layers != layers else None,
        "vision_params": vision,
        "attention_chunk_size": _int(cfg, "attention_chunk_size"),
    }

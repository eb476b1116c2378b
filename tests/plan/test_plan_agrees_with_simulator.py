"""The planner and the simulator agree on capacity: for every catalogue entry, on a GPU where it fits, the
planner's kv_tokens equal the KV block pool the simulator sizes at startup from the same `vllm serve` flags
(vllm_sim.cli / vllm_sim.serve_plan: parse_serve_args -> read_env -> resolve_model -> plan_from_args ->
EngineConfig.num_blocks);
and where the planner says "does not fit", the simulator refuses to start with the same reason."""

from __future__ import annotations

import pytest
from plan_paths import SEED_T4

from vllm_model.catalog import load_gpus, load_models, resolve_model
from vllm_sim.args import parse_serve_args
from vllm_sim.serve_plan import StartupError, plan_from_args, read_env

GPUS = list(load_gpus())  # smallest card first, as the catalogue lists them
TP_SIZES = (1, 2, 4, 8)
MAX_MODEL_LEN = 4096


def _flags(model: str, tp: int, max_model_len: int) -> list[str]:
    return [model, "--max-model-len", str(max_model_len), "--tensor-parallel-size", str(tp)]


def _max_model_len(model: str) -> int:
    return min(MAX_MODEL_LEN, load_models()[model].max_position_embeddings)


def _first_fit(plan, model: str) -> tuple[str, int, dict]:
    """The smallest GPU (then the smallest TP size) the planner says the model fits."""
    for tp in TP_SIZES:
        for gpu in GPUS:
            run = plan("fit", "--gpu", gpu, "--model", model, "--tensor-parallel-size", str(tp),
                       "--max-model-len", str(_max_model_len(model)), "--json")  # fmt: skip
            if run.code == 0:
                return gpu, tp, run.json()
    raise AssertionError(f"{model} fits no catalogue GPU at any TP size")


def _simulator_startup(gpu: str, tp: int, argv: list[str]):
    args = parse_serve_args(argv)
    sim_env = read_env({"VLLM_SIM_GPU": gpu, "NVIDIA_VISIBLE_DEVICES": ",".join(map(str, range(tp)))})
    return plan_from_args(args, resolve_model(args.model), sim_env)


@pytest.mark.parametrize("model", sorted(load_models()))
def test_planner_kv_tokens_equal_the_simulators_block_pool(plan, model: str) -> None:
    gpu, tp, planned = _first_fit(plan, model)
    started = _simulator_startup(gpu, tp, _flags(model, tp, _max_model_len(model)))
    assert planned["kv_tokens"] == started.num_blocks * started.block_size
    assert planned["kv_blocks"] == started.num_blocks
    assert planned["weights_bytes"] == started.weights_bytes
    assert planned["kv_bytes_per_token"] == started.kv_bytes_per_token
    assert planned["max_num_seqs"] == started.max_num_seqs


def test_where_the_planner_says_no_the_simulator_refuses_to_start_with_the_same_reason(plan) -> None:
    planned = plan("fit", *SEED_T4, "--dtype", "float16", "--json").json()
    with pytest.raises(StartupError) as refused:
        _simulator_startup("T4", 1, [SEED_T4[1], "--max-model-len", "4096", "--dtype", "float16"])
    assert planned["fits"] is False
    assert str(refused.value) == planned["reason"]

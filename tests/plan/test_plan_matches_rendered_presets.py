"""For every preset, what the planner reads from the values file is what the chart makes vLLM do.

The chart renders the preset (real `helm template`); the simulator starts from the rendered container's args
and the GPU count it requests, on the preset's `gpu.type`, exactly as in the cluster; its KV block pool must
equal the planner's kv_tokens for the same values file. A chart key the planner misreads (or one the chart
renders differently from what its values say) shows up here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from plan_paths import CHART_ARGS, PRESETS

from chart_harness.objects import gpu_containers
from chart_harness.render import render_chart
from vllm_model.catalog import resolve_model
from vllm_sim.args import parse_serve_args
from vllm_sim.serve_plan import plan_from_args, read_env


def _vllm_container(preset: Path) -> tuple[list[str], int]:
    """The engine flags of the preset's rendered vLLM container (a pool's server, or a batch preset's
    `vllm run-batch` after the shard wrapper's `--`) and the GPUs it requests."""
    rendered = render_chart(values_files=[preset])
    resource = yaml.safe_load(preset.read_text()).get("gpu", {}).get("resourceName", "nvidia.com/gpu")
    pods = [
        d["spec"]["template"]["spec"] for d in [*rendered.of_kind("Deployment"), *rendered.of_kind("Job")]
    ]
    containers = [c for pod in pods for c in gpu_containers(pod, resource)]
    assert containers, f"{preset.name}: no Deployment or Job container requests {resource}"
    args = containers[0]["args"]
    if "--" in args:  # the batch wrapper: -- vllm run-batch FLAGS
        args = args[args.index("--") + 3 :]
    return args, int(containers[0]["resources"]["limits"][resource])


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_planner_capacity_equals_the_simulator_started_from_the_rendered_preset(plan, preset: Path) -> None:
    planned = plan("fit", *CHART_ARGS, "--values", str(preset), "--json").json()
    engine_args, gpus = _vllm_container(preset)
    args = parse_serve_args(engine_args)
    env = {"VLLM_SIM_GPU": planned["gpu"], "NVIDIA_VISIBLE_DEVICES": ",".join(map(str, range(gpus)))}
    started = plan_from_args(args, resolve_model(args.model), read_env(env))
    assert (started.model, started.max_model_len) == (planned["model"], planned["max_model_len"])
    assert started.gpu_memory_utilization == planned["gpu_memory_utilization"]
    assert started.num_blocks * started.block_size == planned["kv_tokens"]
    assert started.max_num_seqs == planned["max_num_seqs"]

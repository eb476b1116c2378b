"""`vllm-sim replay --workload FILE [--gpu GPU] [--json] [serve flags]`: a workload in virtual time.

Takes `vllm serve`'s flags (the model, --tensor-parallel-size, --max-num-seqs, --max-num-batched-tokens,
--max-model-len, --gpu-memory-utilization, --[no-]enable-prefix-caching, --dtype, --quantization, ...)
with the same startup checks as `vllm-sim serve`, plus --gpu (default: VLLM_SIM_GPU, else L4), --workload
(vllm_sim.workload), --hf-config (a Hugging Face config.json to take the model's shapes from) and --json.
Exit status: 0 done, 1 vLLM would not start, 2 a bad flag or workload.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from vllm_model.catalog import DEFAULT_GPU, UnknownGpuError, get_gpu
from vllm_model.timing import TimingModel
from vllm_sim.args import parse_serve_args
from vllm_sim.engine import Engine, EngineConfig
from vllm_sim.replay import replay
from vllm_sim.serve_plan import SimEnv, StartupError, model_from_args, plan_from_args
from vllm_sim.workload import Workload, WorkloadError, load_workload

PROG = "vllm-sim replay"


def _own_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        allow_abbrev=False,
        usage=f"{PROG} [MODEL] --workload FILE [--gpu GPU] [--hf-config FILE] [--json] [vllm serve flags]",
        description="Run a workload on the simulator's engine in virtual time. Every `vllm serve` flag "
        "the simulator models applies (see `vllm-sim serve --help`).",
    )
    p.add_argument("--workload", required=True, help="workload YAML (stages and prompts)")
    p.add_argument(
        "--gpu",
        default=None,
        help=f"simulated GPU (catalogue key or alias); default VLLM_SIM_GPU, else {DEFAULT_GPU}",
    )
    p.add_argument(
        "--hf-config",
        default=None,
        help="a Hugging Face config.json (or model directory) giving the model's shapes "
        "(the same as vllm serve's --hf-config-path)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def _check_lengths(workload: Workload, max_model_len: int) -> None:
    p = workload.prompts
    if p.prompt_tokens + p.output_tokens > max_model_len:
        raise WorkloadError(
            f"prompts.prompt_tokens + prompts.output_tokens ({p.prompt_tokens} + {p.output_tokens}) exceed "
            f"--max-model-len ({max_model_len}): vLLM would refuse every request"
        )


def _table(report: dict[str, Any]) -> str:
    rows = [("stage", "requests", "ttft mean/p99 ms", "itl mean ms", "e2e mean/p99 ms", "tok/s", "preempt")]
    named = [(str(i), s) for i, s in enumerate(report["stages"])] + [("all", report["overall"])]
    for name, s in named:
        rows.append(
            (
                name,
                str(s["requests"]),
                f"{s['ttft_ms']['mean']:.1f} / {s['ttft_ms']['p99']:.1f}",
                f"{s['itl_ms']['mean']:.2f}",
                f"{s['e2e_ms']['mean']:.0f} / {s['e2e_ms']['p99']:.0f}",
                f"{s['output_tokens_per_s']:.0f}",
                str(s["preemptions"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, rest = _own_parser().parse_known_args(argv)
    if own.hf_config and "--model" not in rest:
        rest += ["--model", own.hf_config]  # a MODEL given as well names the model; the file gives its shapes
    args = parse_serve_args(rest)
    try:
        gpu = get_gpu(own.gpu or os.environ.get("VLLM_SIM_GPU") or DEFAULT_GPU)
    except UnknownGpuError as exc:
        print(f"{PROG}: error: --gpu: {exc}", file=sys.stderr)
        return 2
    try:
        workload = load_workload(own.workload)
    except WorkloadError as exc:
        print(f"{PROG}: error: --workload {own.workload}: {exc}", file=sys.stderr)
        return 2
    sim_env = SimEnv(gpu=gpu, time_scale=1.0, load_seconds=0.0, control=False, gpu_count=None)
    try:
        model = model_from_args(args, own.hf_config)
        plan = plan_from_args(args, model, sim_env)
    except StartupError as err:
        print(f"{PROG}: vLLM would not start.\n{err.kind}: {err}", file=sys.stderr)
        return 1
    try:
        _check_lengths(workload, plan.max_model_len)
    except WorkloadError as exc:
        print(f"{PROG}: error: --workload {own.workload}: {exc}", file=sys.stderr)
        return 2
    timing = TimingModel.build(model, gpu, plan)
    engine = Engine(
        EngineConfig.from_plan(
            plan,
            timing,
            enable_prefix_caching=args.enable_prefix_caching is not False,
            enable_chunked_prefill=args.enable_chunked_prefill is not False,
        )
    )
    started = time.process_time()
    result = replay(engine, workload, timing.api_seconds)
    cpu = time.process_time() - started
    report = {
        "model": args.model,
        "gpu": gpu.key,
        "tensor_parallel_size": plan.tensor_parallel_size,
        "max_num_seqs": plan.max_num_seqs,
        "max_num_batched_tokens": plan.max_num_batched_tokens,
        "kv_cache_tokens": plan.kv_tokens,
        **result.report(),
        "cpu_s": round(cpu, 3),
    }
    print(json.dumps(report, indent=2) if own.json else _table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

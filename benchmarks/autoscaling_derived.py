"""The autoscaling bench's deployment and its "derived" configuration (docs/capacity.md).

The deployment (`benchmarks/autoscaling-deployment.yaml` over values/local-sim.yaml: a replica that saturates
on its KV cache, at a time scale) is what the bench compares configurations on and what `make capacity`
(hack/cluster/capacity.sh) measures; both take its values, its time scale and the capacity flags from here.

"derived": `vllm-plan capacity` against one replica of that deployment on the local cluster, from the client
node's network namespace to that pod's IP (one replica, not the Service), with the bench's request shape
(streamed chat of 128 tokens) and TTFT SLO; the chart values it derives (KEDA thresholds, max-num-seqs, mode
keda) are what the bench runs the "derived" release with, over its chart configuration's values
(`autoscaling_bench.derived_config` installs the one-replica release, calls `derived_values` and removes it).

    python benchmarks/autoscaling_derived.py deployment-flags   # what hack/cluster/capacity.sh passes
    python benchmarks/autoscaling_derived.py request-flags      # (each one line)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.release import Release  # noqa: E402
from tests.e2e.traffic import node_exec  # noqa: E402

VLLM_PLAN = ROOT / ".venv" / "bin" / "vllm-plan"
MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # values/local-sim.yaml's
CHART = ROOT / "charts" / "vllm-inference"
LOCAL_SIM = ROOT / "values" / "local-sim.yaml"
DEPLOYMENT = ROOT / "benchmarks" / "autoscaling-deployment.yaml"


def deployment() -> dict[str, Any]:
    """The bench's deployment: chart values over values/local-sim.yaml."""
    values: dict[str, Any] = yaml.safe_load(DEPLOYMENT.read_text())
    return values


def time_scale() -> float:
    """The deployment's VLLM_SIM_TIME_SCALE (wall seconds per model second)."""
    env = {e["name"]: e["value"] for e in deployment()["vllm"]["env"]}
    return float(env.get("VLLM_SIM_TIME_SCALE", 1))


def deployment_flags() -> tuple[str, ...]:
    """vllm-plan capacity's flags for the deployment: its values files over the chart (what --predict
    replays: max-model-len, max-num-seqs, the block count in vllm.extraArgs) and its time scale."""
    files = ("--chart", str(CHART), "--values", str(LOCAL_SIM), "--values", str(DEPLOYMENT))
    return (*files, "--time-scale", f"{time_scale():g}")


# A release of the bench's deployment with one fixed replica and no autoscaler: what the ramp measures.
ONE_REPLICA: dict[str, Any] = {"autoscaling": {"mode": "none"}, "pools": {"onDemand": {"replicas": 1}}}
# The bench's load: streamed chat, 128 tokens each, a short prompt (tests/e2e/traffic.STREAMING); bounded
# steps (30 s: the simulator runs at the bench's time scale) so the ramp takes about three minutes.
# The service's SLO: the first token within half a second (an interactive chat); the bench counts the
# seconds whose p95 exceeds it, the capacity ramp holds its p99.
TTFT_SLO_S = 0.5
RAMP = ("--api", "chat", "--input-tokens", "16", "--output-tokens", "128", "--itl-slo", "0.2",
        "--step-seconds", "30", "--step-requests", "150")  # fmt: skip


def request_flags() -> tuple[str, ...]:
    """vllm-plan capacity's flags for the bench's requests, bounds and SLO."""
    return (*RAMP, "--ttft-slo", f"{TTFT_SLO_S:g}")


def derived_values(release: Release, out: Path) -> dict[str, Any]:
    """The values `vllm-plan capacity` derives from `release`'s one ready on-demand pod, a release of the
    deployment (report in `out`)."""
    pod = release.ready_pods("onDemand")[0]
    url = f"http://{pod.obj['status']['podIP']}:8000"
    done = node_exec(
        str(VLLM_PLAN), "capacity", "--url", url, "--model", MODEL, *deployment_flags(), *request_flags(),
        "--out", str(out), "--json",
        timeout_s=1200,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"vllm-plan capacity against {url} failed ({done.returncode}):\n{done.stderr}")
    values: dict[str, Any] = json.loads(done.stdout)["values"]
    return values


if __name__ == "__main__":
    FLAGS = {"deployment-flags": deployment_flags, "request-flags": request_flags}
    if len(sys.argv) != 2 or sys.argv[1] not in FLAGS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(FLAGS)}}}")
    print(" ".join(FLAGS[sys.argv[1]]()))

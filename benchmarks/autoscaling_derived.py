"""The autoscaling bench's "derived" configuration (docs/capacity.md): `vllm-plan capacity` against one
replica of the bench's own deployment on the local cluster, from the client node's network namespace to that
pod's IP (one replica, not the Service), with the bench's request shape (streamed chat of 128 tokens) and
TTFT SLO; the chart values it derives (KEDA thresholds, max-num-seqs, mode keda) are what the bench runs the
"derived" release with, over its chart configuration's values (`autoscaling_bench.derived_config`
installs the one-replica release, calls `derived_values` and removes it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.release import Release  # noqa: E402
from tests.e2e.traffic import node_exec  # noqa: E402

VLLM_PLAN = ROOT / ".venv" / "bin" / "vllm-plan"
MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # values/local-sim.yaml's
# A release of the bench's deployment with one fixed replica and no autoscaler: what the ramp measures.
ONE_REPLICA: dict[str, Any] = {"autoscaling": {"mode": "none"}, "pools": {"onDemand": {"replicas": 1}}}
# The bench's load: streamed chat, 128 tokens each, a short prompt (tests/e2e/traffic.STREAMING); bounded
# steps (30 s: the simulator runs at the bench's time scale) so the ramp takes about three minutes.
RAMP = ("--api", "chat", "--input-tokens", "16", "--output-tokens", "128", "--itl-slo", "0.2",
        "--step-seconds", "30", "--step-requests", "150")  # fmt: skip


def derived_values(release: Release, ttft_slo_s: float, out: Path, time_scale: float = 1.0) -> dict[str, Any]:
    """The values `vllm-plan capacity` derives from `release`'s one ready on-demand pod (report in `out`)."""
    pod = release.ready_pods("onDemand")[0]
    url = f"http://{pod.obj['status']['podIP']}:8000"
    done = node_exec(
        str(VLLM_PLAN), "capacity", "--url", url, "--model", MODEL, "--time-scale", str(time_scale),
        "--ttft-slo", str(ttft_slo_s), *RAMP, "--out", str(out), "--json",
        timeout_s=1200,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"vllm-plan capacity against {url} failed ({done.returncode}):\n{done.stderr}")
    values: dict[str, Any] = json.loads(done.stdout)["values"]
    return values

"""Load through a Service the way clients in the cluster send it: the load client (vllm-load) runs in a real
node's network namespace, where that node's kube-proxy rules route ClusterIP traffic and balance it per
connection over the Service's ready endpoints (kubectl port-forward would pin one pod). The local cluster's
real nodes keep their namespaces under /run/vllm-inference/nodes (hack/cluster/nodes.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .kube import ROOT

NODES_RUN = Path("/run/vllm-inference/nodes")
CLIENT_NODE = "vllm-gpu-ondemand-real-0"  # never drained or reclaimed by the tests
VLLM_LOAD = ROOT / ".venv" / "bin" / "vllm-load"
# The scenarios' steady load: streamed chat requests of 128 tokens (about 0.75 s each on the simulated L4),
# one connection each (so the Service balances every request), 20 s timeout.
STREAMING = (
    "--api", "chat", "--stream", "--max-tokens", "128", "--ignore-eos", "--no-keepalive", "--timeout", "20",
)  # fmt: skip


def client_netns() -> Path:
    netns = NODES_RUN / CLIENT_NODE / "netns"
    if os.geteuid() != 0 or not netns.exists():
        pytest.skip(f"traffic through a Service needs the local cluster's node namespaces ({netns}, as root)")
    return netns


@dataclass
class Load:
    """A vllm-load run in the background; `result()` waits for it and returns its JSON report."""

    proc: subprocess.Popen[str]
    report_path: Path
    started: float

    def result(self, timeout_s: float = 300) -> dict[str, Any]:
        out, err = self.proc.communicate(timeout=timeout_s)
        assert self.proc.returncode == 0, f"vllm-load failed ({self.proc.returncode}):\n{out}\n{err}"
        report: dict[str, Any] = json.loads(self.report_path.read_text())
        return report

    def offset(self, monotonic: float) -> float:
        """A moment of the test as seconds since the load began (the report's start_s/end_s clock)."""
        return monotonic - self.started


def start_load(url: str, *args: str) -> Load:
    """Start vllm-load against `url` from the client node's network namespace, with its CLI flags."""
    netns = client_netns()
    report = Path(tempfile.mkstemp(prefix="vllm-load-", suffix=".json")[1])
    cmd = ["nsenter", f"--net={netns}", "--", str(VLLM_LOAD), "--url", url, "--json", str(report), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Load(proc, report, time.monotonic())


def run_load(url: str, *args: str, timeout_s: float = 300) -> dict[str, Any]:
    return start_load(url, *args).result(timeout_s)


def node_exec(*cmd: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    """A command in the client node's network namespace (curl to a ClusterIP, say)."""
    netns = client_netns()
    return subprocess.run(
        ["nsenter", f"--net={netns}", "--", *cmd],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )

"""Loud failure: a model that does not fit makes the pod fail with the server's own vLLM error, and
`helm install --wait --timeout` fails within its timeout instead of hanging; a cold start longer than the
progress deadline Kubernetes gives a Deployment by default, but within the startup probe's budget, is not
reported as a failed rollout (both at a time scale, the simulator's load time standing for the model's)."""

from __future__ import annotations

import time

from .conftest import Figure
from .kube import kubectl, wait_until
from .release import E2E_VALUES, Release, run

HELM_TIMEOUT_S = 30
TIME_SCALE = 20  # tests/e2e/values/cold-start.yaml: 1 s stands for 20 s
DEFAULT_PROGRESS_DEADLINE_S = 600


def test_a_model_that_does_not_fit_fails_the_install_with_vllms_message(
    release: Release, figure: Figure
) -> None:
    start = time.monotonic()
    out = release.chart_cmd(
        "upgrade", "--install", values=[E2E_VALUES / "too-big.yaml"], wait=True, timeout=f"{HELM_TIMEOUT_S}s"
    )
    took = time.monotonic() - start
    assert out.returncode != 0, out.stdout
    assert took < HELM_TIMEOUT_S + 30, f"helm took {took:.0f}s with --timeout {HELM_TIMEOUT_S}s"
    (pod,) = release.pods("onDemand")

    def crashed() -> str | None:
        pod.reload()
        for c in pod.obj["status"].get("containerStatuses", []):
            terminated = c.get("lastState", {}).get("terminated") or c.get("state", {}).get("terminated")
            if terminated and terminated.get("exitCode") == 1:
                return str(c.get("state", {}).get("waiting", {}).get("reason", "Terminated"))
        return None

    state = wait_until("the vLLM container to exit 1", crashed, 60)
    logs = (
        pod.logs(container="vllm", previous=True)
        if state == "CrashLoopBackOff"
        else pod.logs(container="vllm")
    )
    error = next(
        line for line in logs.splitlines() if "Error" in line and ":" in line and "[vllm-sim]" not in line
    )
    figure(f"helm failed after {took:.0f}s: {out.stderr.strip().splitlines()[-1]}")
    figure(f"the pod ({state}): {error}")
    assert "EngineCore failed to start" in logs
    assert "CUDA out of memory" in error


def test_a_cold_start_longer_than_the_default_progress_deadline_is_not_a_failed_rollout(
    release: Release, figure: Figure
) -> None:
    release.install(E2E_VALUES / "cold-start.yaml")
    dep = release.deployment("onDemand")
    # The chart derives its deadline from the (scaled) values; Kubernetes' own default is scaled here.
    deadline = dep.obj["spec"]["progressDeadlineSeconds"]
    if deadline == DEFAULT_PROGRESS_DEADLINE_S:
        deadline = DEFAULT_PROGRESS_DEADLINE_S // TIME_SCALE
        dep.patch({"spec": {"progressDeadlineSeconds": deadline}})
    status = run(
        kubectl(), "--kubeconfig", release.kubeconfig, "-n", release.namespace, "rollout", "status",
        f"deployment/{dep.name}", "--timeout=150s", timeout_s=180,
    )  # fmt: skip
    dep.reload()
    progressing = next(c for c in dep.obj["status"]["conditions"] if c["type"] == "Progressing")
    figure(
        f"progress deadline {deadline} s ({deadline * TIME_SCALE} s at 1:{TIME_SCALE}), model load 40 s "
        f"(800 s): rollout status rc {status.returncode}, Progressing {progressing['status']} "
        f"({progressing['reason']})"
    )
    assert progressing["reason"] != "ProgressDeadlineExceeded"
    assert status.returncode == 0, status.stderr
    release.wait_serving({"onDemand": 1})

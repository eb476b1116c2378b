"""Batch mode renders an Indexed Job (a CronJob on a schedule) of `vllm run-batch` shards on the batch pool:
a podFailurePolicy that ignores disruptions and fails fast on configuration errors, the serving pool's own
pod template (placement, GPUs, security, caches), and a command that really runs: the rendered container,
executed here with the simulator as `vllm`, answers every request of its shard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chart_harness.matrix import deep_merge
from chart_harness.render import CHART_DIR, ROOT, render_chart
from vllm_sim.args import parse_serve_args

LOCAL_SIM = ROOT / "values" / "local-sim.yaml"
BATCH: dict[str, Any] = {
    "pools": {"onDemand": {"enabled": False}, "spot": {"enabled": False}},
    "batch": {"enabled": True, "shards": 3, "parallelism": 2, "data": {"existingClaim": "batch-data"}},
}
SERVING_SPOT: dict[str, Any] = {"pools": {"onDemand": {"enabled": False}, "spot": {"enabled": True}}}
NAME = "test-vllm-inference-batch"
# Fields of the pod spec that batch and serving pods share (one template, _pod.tpl).
SHARED_POD_FIELDS = (
    "nodeSelector",
    "affinity",
    "tolerations",
    "securityContext",
    "serviceAccountName",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "terminationGracePeriodSeconds",
    "topologySpreadConstraints",
)
SHARED_CONTAINER_FIELDS = ("image", "imagePullPolicy", "resources", "securityContext", "env")


def job(values: dict[str, Any] | None = None) -> dict[str, Any]:
    rendered = render_chart(deep_merge(BATCH, values or {}), values_files=[LOCAL_SIM])
    return rendered.get("Job", NAME)


def container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    (c,) = [c for c in pod_spec["containers"] if c["name"] == "vllm"]
    return c


def test_the_job_is_indexed_with_one_completion_per_shard() -> None:
    spec = job()["spec"]
    assert spec["completionMode"] == "Indexed"
    assert (spec["completions"], spec["parallelism"]) == (3, 2)
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert job({"batch": {"parallelism": None}})["spec"]["parallelism"] == 3


def test_disruptions_are_ignored_and_configuration_errors_fail_the_job_at_once() -> None:
    spec = job({"batch": {"backoffLimit": 4}})["spec"]
    assert spec["podFailurePolicy"]["rules"] == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "vllm", "operator": "In", "values": [1, 2]}},
    ]
    # A replacement only once the old pod is gone: a shard's output never has two writers.
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["backoffLimit"] == 4
    assert "backoffLimitPerIndex" not in spec


def test_optional_job_limits_render_only_when_set() -> None:
    limits = {"backoffLimitPerIndex": 2, "activeDeadlineSeconds": 3600, "ttlSecondsAfterFinished": 600}
    spec = job({"batch": limits})["spec"]
    assert {k: spec[k] for k in limits} == limits
    assert job({"batch": {"failJobExitCodes": []}})["spec"]["podFailurePolicy"]["rules"] == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]


@pytest.mark.parametrize("pool", ["spot", "onDemand"])
def test_batch_pods_take_the_serving_pool_template_of_their_pool(pool: str) -> None:
    serving_values = deep_merge(SERVING_SPOT, {"pools": {"spot": {"enabled": pool == "spot"}}})
    serving_values = deep_merge(serving_values, {"pools": {"onDemand": {"enabled": pool == "onDemand"}}})
    serving = render_chart(serving_values, values_files=[LOCAL_SIM]).of_kind("Deployment")[0]
    batch_pod = job({"batch": {"pool": pool}})["spec"]["template"]["spec"]
    serving_pod = serving["spec"]["template"]["spec"]
    for field in SHARED_POD_FIELDS:
        want = serving_pod.get(field)
        if field == "topologySpreadConstraints":  # the same spread, over the batch pods
            want = json.loads(
                json.dumps(want).replace(f'"pool-{"on-demand" if pool == "onDemand" else pool}"', '"batch"')
            )
        assert batch_pod.get(field) == want, field
    for field in SHARED_CONTAINER_FIELDS:
        assert container(batch_pod).get(field) == container(serving_pod).get(field), field
    serving_volumes = {v["name"]: v for v in serving_pod["volumes"]}
    assert {v["name"]: v for v in batch_pod["volumes"] if v["name"] in serving_volumes} == serving_volumes


def test_batch_pods_are_no_endpoints_and_have_no_server_parts() -> None:
    pod = job()["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "batch"
    c = container(pod["spec"])
    assert not {"ports", "startupProbe", "readinessProbe", "livenessProbe", "lifecycle"} & set(c)
    rendered = render_chart(BATCH, values_files=[LOCAL_SIM])
    assert not rendered.of_kind("Service") and not rendered.of_kind("Deployment")
    assert not [p for p in rendered.of_kind("Pod")], "helm test pods of a server that does not exist"


def test_run_batch_gets_the_servers_engine_flags_without_the_server_only_ones() -> None:
    extra = {"vllm": {"extraArgs": ["--seed", "7"]}, "batch": {"extraArgs": ["--max-log-len", "100"]}}
    args = container(job(extra)["spec"]["template"]["spec"])["args"]
    vllm = args[args.index("--") + 1 :]
    assert vllm[:2] == ["vllm", "run-batch"]
    serving = render_chart(deep_merge(SERVING_SPOT, extra), values_files=[LOCAL_SIM]).of_kind("Deployment")[0]
    serve = container(serving["spec"]["template"]["spec"])["args"]
    engine = list(serve)
    for server_only in ("--port", "--shutdown-timeout"):
        i = engine.index(server_only)
        del engine[i : i + 2]
    assert vllm[2:] == ["--model", *engine, "--max-log-len", "100"]
    parsed = parse_serve_args(vllm[2:-2], prog="vllm run-batch")
    assert parsed.model == "Qwen/Qwen2.5-0.5B-Instruct" and parsed.model_tag is None


def test_the_wrapper_and_its_paths_come_from_values() -> None:
    values = {
        "batch": {"input": {"path": "in/docs.jsonl"}, "output": {"dir": "out/"}, "data": {"mountPath": "/d"}}
    }
    spec = job(values)["spec"]["template"]["spec"]
    c = container(spec)
    assert c["command"] == ["python3", "/opt/vllm-inference/batch/batch_shard.py"]
    assert c["args"][: c["args"].index("--")] == [
        "--input",
        "/d/in/docs.jsonl",
        "--output-dir",
        "/d/out",
        "--shards",
        "3",
    ]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["batch-data"]["mountPath"] == "/d"
    assert mounts["batch-wrapper"] == {
        "name": "batch-wrapper",
        "mountPath": "/opt/vllm-inference/batch",
        "readOnly": True,
    }
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["batch-data"]["persistentVolumeClaim"] == {"claimName": "batch-data"}
    assert volumes["batch-wrapper"]["configMap"]["name"] == NAME
    nfs = {"nfs": {"server": "nfs.internal", "path": "/batch"}}
    inline = job({"batch": {"data": {"existingClaim": "", "volume": nfs}}})["spec"]["template"]["spec"]
    assert {v["name"]: v for v in inline["volumes"]}["batch-data"] == {"name": "batch-data", **nfs}


def test_the_configmap_carries_the_wrapper_file_verbatim() -> None:
    rendered = render_chart(BATCH, values_files=[LOCAL_SIM])
    data = rendered.get("ConfigMap", NAME)["data"]
    assert data["batch_shard.py"].rstrip("\n") == (
        CHART_DIR / "files/batch/batch_shard.py"
    ).read_text().rstrip("\n")


def test_a_schedule_renders_a_cronjob_whose_runs_write_under_their_job_name() -> None:
    rendered = render_chart(deep_merge(BATCH, {"batch": {"schedule": "0 2 * * *"}}), values_files=[LOCAL_SIM])
    assert not rendered.of_kind("Job")
    cron = rendered.get("CronJob", NAME)
    assert (cron["spec"]["schedule"], cron["spec"]["concurrencyPolicy"]) == ("0 2 * * *", "Forbid")
    spec = cron["spec"]["jobTemplate"]["spec"]
    assert spec == {**job()["spec"], "template": spec["template"]}
    c = container(spec["template"]["spec"])
    assert c["args"][c["args"].index("--output-dir") + 1] == "/data/output/$(BATCH_JOB_NAME)"
    env = {e["name"]: e for e in c["env"]}
    field = env["BATCH_JOB_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.labels['batch.kubernetes.io/job-name']"


def _run_rendered(
    spec: dict[str, Any], data: Path, vllm_bin: Path, index: int
) -> subprocess.CompletedProcess[str]:
    """The rendered container's command and args, with its mounts mapped to local directories, run here with
    the simulator as `vllm` and the Job's completion index."""
    c = container(spec)
    mounts = {"/data": str(data), "/opt/vllm-inference/batch": str(CHART_DIR / "files" / "batch")}

    def local(arg: str) -> str:
        for path, there in mounts.items():
            if arg.startswith(path):
                return there + arg[len(path) :]
        return arg

    argv = [local(a) for a in [*c["command"], *c["args"]]]
    argv[0] = sys.executable
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    env.update(HOME=str(data / "home"), TMPDIR=str(data), XDG_CACHE_HOME=str(data / "cache"))
    for var in ("VLLM_CACHE_ROOT", "TRITON_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR", "HF_HOME"):
        env[var] = str(data / "cache" / var.lower())
    env.update(
        PATH=f"{vllm_bin}:{os.environ['PATH']}", JOB_COMPLETION_INDEX=str(index), VLLM_SIM_TIME_SCALE="0.01"
    )
    return subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_the_rendered_shards_run_and_answer_every_request_once(tmp_path: Path) -> None:
    vllm_bin = tmp_path / "bin"
    vllm_bin.mkdir()
    (vllm_bin / "vllm").write_text(f'#!/bin/sh\nexec {sys.executable} -m vllm_sim "$@"\n')
    (vllm_bin / "vllm").chmod(0o755)
    data = tmp_path / "data"
    data.mkdir()
    lines = []
    for i in range(10):
        body = {"model": "Qwen/Qwen2.5-0.5B-Instruct", "messages": [{"role": "user", "content": f"doc {i}"}]}
        lines.append(
            json.dumps(
                {
                    "custom_id": f"doc-{i}",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": body | {"max_completion_tokens": 4},
                }
            )
        )
    (data / "input.jsonl").write_text("\n".join([*lines, "not json"]) + "\n")
    spec = job()["spec"]
    for index in range(spec["completions"]):
        proc = _run_rendered(spec["template"]["spec"], data, vllm_bin, index)
        assert proc.returncode == 0, proc.stderr
    ids = [
        json.loads(x)["custom_id"]
        for i in range(3)
        for x in (data / "output" / f"shard-{i}.jsonl").read_text().splitlines()
    ]
    assert sorted(ids) == sorted([f"doc-{i}" for i in range(10)] + ["invalid-line-11"])

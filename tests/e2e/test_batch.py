"""Batch mode on spot: 200 requests and a malformed line over 4 `vllm run-batch` shards on the real spot node;
one running shard is evicted mid-way through the Eviction API (the DisruptionTarget condition a reclaim sets
too). The Job still completes (backoffLimit 0: the eviction is not counted), every request has exactly one
output line, the evicted shard's finished requests keep the output they had (same `id`: not run again), and
the malformed line has an error line instead of crashing its shard."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pykube

from .conftest import Figure
from .kube import ROOT, host_path_volume, wait_until
from .release import E2E_VALUES, Release

REQUESTS = 200
SHARDS = 4
MALFORMED_AT = 101  # 1-based line number of the malformed line in the input file
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
JOB_TIMEOUT_S = 240


def request(i: int) -> dict[str, Any]:
    text = f"Summarise document {i}: " + "lorem ipsum " * 40
    body = {
        "model": "Qwen/Qwen2.5-0.5B-Instruct",
        "messages": [{"role": "user", "content": text}],
        "max_completion_tokens": 32,
        "ignore_eos": True,
    }
    return {"custom_id": f"doc-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}


def write_input(data: Path) -> None:
    lines = [json.dumps(request(i)) for i in range(REQUESTS)]
    lines.insert(MALFORMED_AT - 1, '{"custom_id": "broken", "method": "POST", "url": ')  # torn JSON
    (data / "input.jsonl").write_text("\n".join(lines) + "\n")


def bind_claim(api: pykube.HTTPClient, namespace: str, data: Path) -> pykube.PersistentVolume:
    """A hostPath PersistentVolume on `data` (every real node of the local cluster sees the host's disk),
    pre-bound to the claim `batch-data` the release names."""
    claim_ref = {"namespace": namespace, "name": "batch-data"}
    pv = host_path_volume(api, f"{namespace}-batch-data", data, claim=claim_ref)
    claim = pykube.PersistentVolumeClaim(
        api,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "batch-data", "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": pv.name,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    claim.create()

    def bound() -> bool:
        claim.reload()
        return claim.obj.get("status", {}).get("phase") == "Bound"

    wait_until("the batch claim bound", bound, 30, 0.5)
    return pv


def evict(api: pykube.HTTPClient, pod: pykube.Pod) -> None:
    """As a drain or a reclaim through the Eviction API: the pod gets DisruptionTarget, then SIGTERM."""
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod.name}}
    r = api.post(
        url=f"pods/{pod.name}/eviction", namespace=pod.namespace, version="v1", data=json.dumps(body)
    )
    api.raise_for_status(r)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def job_state(job: pykube.Job) -> str | None:
    job.reload()
    for c in job.obj.get("status", {}).get("conditions", []):
        if c["type"] in ("Complete", "Failed") and c["status"] == "True":
            return str(c["type"])
    return None


def test_a_batch_survives_an_eviction_mid_shard_without_repeating_or_losing_a_request(
    api: pykube.HTTPClient, namespace: str, release: Release, figure: Figure
) -> None:
    ns = pykube.Namespace.objects(api).get(name=namespace)
    enforce = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}
    ns.patch({"metadata": {"labels": {**enforce, "pod-security.kubernetes.io/enforce-version": "latest"}}})
    data = ROOT / "build" / "e2e-batch" / namespace
    data.mkdir(parents=True)
    data.chmod(0o777)  # the pods run as uid 1000; a hostPath volume gets no fsGroup
    write_input(data)
    pv = bind_claim(api, namespace, data)
    started = time.monotonic()
    try:
        release.install(E2E_VALUES / "batch.yaml")
        (job,) = pykube.Job.objects(api, namespace=namespace).filter(
            selector={"app.kubernetes.io/instance": release.name}
        )
        out = data / "output"
        pods_by_index: dict[str, set[str]] = {}
        nodes: set[str] = set()

        def watch() -> list[pykube.Pod]:
            selector = {"batch.kubernetes.io/job-name": job.name}
            pods = list(pykube.Pod.objects(api, namespace=namespace).filter(selector=selector))
            for p in pods:
                pods_by_index.setdefault(p.labels.get(INDEX_LABEL, "?"), set()).add(p.obj["metadata"]["uid"])
                if p.obj["spec"].get("nodeName"):
                    nodes.add(p.obj["spec"]["nodeName"])
            return pods

        def victim() -> pykube.Pod | None:
            """A running shard whose vLLM has flushed output but is not done."""
            for p in watch():
                index = p.labels.get(INDEX_LABEL)
                running = p.obj["status"].get("phase") == "Running" and "deletionTimestamp" not in p.metadata
                if running and complete_lines(out / f".shard-{index}.part.jsonl") >= 1:
                    return p
            return None

        pod = wait_until("a shard with output mid-way", victim, 120, 0.2)
        index = pod.labels[INDEX_LABEL]
        evict(api, pod)
        evicted_at = time.monotonic()

        def stopped() -> bool:
            watch()
            current = pykube.Pod.objects(api, namespace=namespace).get_or_none(name=pod.name)
            return current is None or current.obj["status"].get("phase") in ("Failed", "Succeeded")

        wait_until("the evicted shard stopped", stopped, 60, 0.2)
        # What the evicted shard's wrapper merged on its way out: requests the replacement must not run again.
        kept = {r["custom_id"]: r["id"] for r in records(out / f"shard-{index}.jsonl")}

        def finished() -> str | None:
            watch()
            return job_state(job)

        state = wait_until("the batch Job finished", finished, JOB_TIMEOUT_S, 1)
        elapsed = time.monotonic() - started
        outputs = [r for i in range(SHARDS) for r in records(out / f"shard-{i}.jsonl")]
        counts = Counter(r["custom_id"] for r in outputs)
        duplicates = sum(n - 1 for n in counts.values())
        by_id = {r["custom_id"]: r for r in outputs}
        expected = {f"doc-{i}" for i in range(REQUESTS)} | {f"invalid-line-{MALFORMED_AT}"}
        failed_requests = [
            c for c in expected - {f"invalid-line-{MALFORMED_AT}"} if c in by_id and by_id[c]["error"]
        ]
        job_failed = int(job.obj["status"].get("failed", 0))
        retries = sum(len(uids) for uids in pods_by_index.values()) - SHARDS
        rerun = {c: by_id[c]["id"] for c in kept if c in by_id}
        failed = len(failed_requests) + job_failed
        answered = len(set(counts) & expected)
        figure(f"batch: {answered} of {len(expected)} outputs, {duplicates} duplicates, {failed} failed")
        figure(
            f"{REQUESTS} requests + 1 malformed line, {SHARDS} shards on {', '.join(sorted(nodes))}; "
            f"shard {index} evicted {evicted_at - started:.0f} s in with {len(kept)} outputs kept; "
            f"{retries} retries; Job {state} in {elapsed:.0f} s"
        )
    finally:
        release.uninstall()
        pv.delete()
        shutil.rmtree(data, ignore_errors=True)

    assert state == "Complete", job.obj["status"]
    assert set(counts) == expected and duplicates == 0, (sorted(expected - set(counts)), duplicates)
    assert not failed_requests and job_failed == 0
    assert retries >= 1 and len(pods_by_index[index]) >= 2, pods_by_index
    assert kept and rerun == kept, "the evicted shard's finished requests ran again"
    bad = by_id[f"invalid-line-{MALFORMED_AT}"]
    assert bad["response"]["status_code"] == 400 and bad["error"].startswith("invalid batch input line")
    assert all(n.endswith("spot-real-0") for n in nodes), nodes

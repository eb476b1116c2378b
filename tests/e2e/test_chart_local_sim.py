"""The chart, installed with values/local-sim.yaml by helm 4 and by helm 3, serves chat completions from a GPU
node and passes `helm test`."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from kubernetes import client

from vllm_sim.launch import free_port

from .kube import GPU, ROOT, delete_namespace, helm, kubeconfig, kubectl, wait_until

CHART = ROOT / "charts" / "vllm-inference"
VALUES = ROOT / "values" / "local-sim.yaml"


def run(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)


def ready_endpoints(discovery: client.DiscoveryV1Api, ns: str, service: str) -> list[client.V1Endpoint]:
    slices = discovery.list_namespaced_endpoint_slice(
        ns, label_selector=f"kubernetes.io/service-name={service}"
    )
    return [e for s in slices.items for e in s.endpoints or [] if e.conditions and e.conditions.ready]


@dataclass(frozen=True)
class Release:
    helm: str
    namespace: str
    name: str
    service: str


@pytest.fixture(scope="module", params=["helm", "helm3"])
def release(request: pytest.FixtureRequest, core: client.CoreV1Api) -> Iterator[Release]:
    """The chart installed with local-sim by helm 4 and by helm 3, each with a ready endpoint."""
    binary = helm(request.param)
    ns, name = f"e2e-chart-{uuid.uuid4().hex[:6]}", "sim"
    kube = ("--kubeconfig", kubeconfig())
    out = run(
        binary,
        "install",
        name,
        str(CHART),
        "-n",
        ns,
        "--create-namespace",
        "-f",
        str(VALUES),
        *kube,
        timeout_s=120,
    )
    assert out.returncode == 0, f"{request.param} install failed: {out.stderr}"
    try:
        services = core.list_namespaced_service(ns, label_selector=f"app.kubernetes.io/instance={name}").items
        assert services, "the release created no Service"
        service = services[0].metadata.name
        discovery = client.DiscoveryV1Api()
        wait_until(
            f"a ready endpoint behind {service}", lambda: ready_endpoints(discovery, ns, service), 240, 2
        )
        yield Release(binary, ns, name, service)
    finally:
        run(binary, "uninstall", name, "-n", ns, *kube, timeout_s=150)
        delete_namespace(core, ns)


def test_the_chart_answers_a_chat_completion_from_a_pod_on_a_gpu_node(
    core: client.CoreV1Api, release: Release
) -> None:
    ns, service = release.namespace, release.service
    port = free_port()
    cmd = [
        kubectl(),
        "--kubeconfig",
        kubeconfig(),
        "-n",
        ns,
        "port-forward",
        f"svc/{service}",
        f"{port}:http",
    ]
    forward = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"

        def models() -> list[str] | None:
            try:
                return [m["id"] for m in requests.get(f"{base}/v1/models", timeout=5).json()["data"]]
            except (requests.RequestException, ValueError):
                return None

        model = wait_until("the port-forwarded Service", models, 30)[0]
        body = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello."}]}
        reply = requests.post(f"{base}/v1/chat/completions", json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert answer["choices"][0]["message"]["content"]
        assert answer["usage"]["completion_tokens"] >= 1
    finally:
        forward.terminate()
        forward.wait(10)
    # Every endpoint that can answer runs on a node that has GPUs and the GPU taint.
    for endpoint in ready_endpoints(client.DiscoveryV1Api(), ns, service):
        node = core.read_node(endpoint.node_name)
        assert int(node.status.allocatable.get(GPU, "0")) >= 1
        assert any(t.key == "gpu" and t.effect == "NoSchedule" for t in node.spec.taints or [])


def test_helm_test_passes(release: Release) -> None:
    out = run(
        release.helm,
        "test",
        release.name,
        "-n",
        release.namespace,
        "--kubeconfig",
        kubeconfig(),
        "--timeout",
        "180s",
        # the test pods stay until the next `helm test` (before-hook-creation), so both helms can read them
        "--logs",
        timeout_s=240,
    )
    assert out.returncode == 0, f"{release.helm} test failed:\n{out.stdout}\n{out.stderr}"
    assert "TEST SUITE:" in out.stdout, out.stdout  # the release has tests, and they ran
    assert "POD LOGS:" in out.stdout, out.stdout


def test_the_replica_on_a_simulated_spot_node_runs_but_gets_no_traffic(
    core: client.CoreV1Api, release: Release
) -> None:
    ns, name, service = release.namespace, release.name, release.service

    def simulated_pods() -> list[client.V1Pod]:
        pods = core.list_namespaced_pod(ns, label_selector=f"app.kubernetes.io/instance={name}").items
        return [
            p
            for p in pods
            if p.spec.node_name
            and p.status.phase == "Running"
            and core.read_node(p.spec.node_name).metadata.annotations.get("kwok.x-k8s.io/node") == "fake"
        ]

    pod = wait_until("a replica Running on a simulated node", simulated_pods, 60)[0]
    node = core.read_node(pod.spec.node_name)
    assert node.metadata.labels["karpenter.sh/capacity-type"] == "spot"
    ready = {c.type: c.status for c in pod.status.conditions}["Ready"]
    assert ready == "False"
    serving = {a for e in ready_endpoints(client.DiscoveryV1Api(), ns, service) for a in e.addresses}
    assert pod.status.pod_ip and pod.status.pod_ip not in serving

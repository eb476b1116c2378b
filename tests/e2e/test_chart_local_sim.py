"""The chart, installed with values/local-sim.yaml by helm 4 and by helm 3, serves chat completions from both
pools' GPU nodes and passes `helm test`."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pykube
import pytest
import requests
from pytest_helm_charts.clusters import Cluster
from pytest_helm_charts.utils import delete_and_wait_for_objects

from vllm_sim.launch import free_port

from .kube import ROOT, allocatable_gpus, capacity_type, has_gpu_taint, helm, wait_until
from .release import ready_endpoints

CHART = ROOT / "charts" / "vllm-inference"
VALUES = ROOT / "values" / "local-sim.yaml"


def run(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)


@dataclass(frozen=True)
class Release:
    helm: str
    kubeconfig: str
    namespace: str
    name: str
    service: str


@pytest.fixture(scope="module", params=["helm", "helm3"])
def release(
    request: pytest.FixtureRequest, kube_cluster: Cluster, api: pykube.HTTPClient
) -> Iterator[Release]:
    """The chart installed with local-sim by helm 4 and by helm 3, each with a ready endpoint; uninstalled and
    its namespace deleted (and waited for) before the next, so the GPUs are free again."""
    binary, kubeconfig = helm(request.param), str(kube_cluster.kube_config_path)
    ns, name = f"e2e-chart-{uuid.uuid4().hex[:6]}", "sim"
    kube = ("--kubeconfig", kubeconfig)
    install = (binary, "install", name, str(CHART), "-n", ns, "--create-namespace", "-f", str(VALUES))
    out = run(*install, *kube, timeout_s=120)
    assert out.returncode == 0, f"{request.param} install failed: {out.stderr}"
    try:
        services = pykube.Service.objects(api, namespace=ns).filter(
            selector={"app.kubernetes.io/instance": name}
        )
        names = [s.name for s in services]
        assert names, "the release created no Service"
        service = names[0]
        wait_until(f"a ready endpoint behind {service}", lambda: ready_endpoints(api, ns, service), 240, 2)
        yield Release(binary, kubeconfig, ns, name, service)
    finally:
        run(binary, "uninstall", name, "-n", ns, *kube, timeout_s=150)
        namespace = pykube.Namespace.objects(api).get_or_none(name=ns)
        if namespace is not None:
            delete_and_wait_for_objects(api, pykube.Namespace, [namespace])


def test_the_chart_answers_a_chat_completion_from_a_pod_on_a_gpu_node(
    api: pykube.HTTPClient, release: Release
) -> None:
    ns, service = release.namespace, release.service
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not in PATH (make tools-cluster links the cluster's into .tools/bin)"
    port = free_port()
    cmd = [
        kubectl,
        "--kubeconfig",
        release.kubeconfig,
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
    for endpoint in ready_endpoints(api, ns, service):
        node = pykube.Node.objects(api).get(name=endpoint["nodeName"])
        assert allocatable_gpus(node) >= 1
        assert has_gpu_taint(node)


def test_helm_test_passes(release: Release) -> None:
    out = run(
        release.helm,
        "test",
        release.name,
        "-n",
        release.namespace,
        "--kubeconfig",
        release.kubeconfig,
        "--timeout",
        "180s",
        # the test pods stay until the next `helm test` (before-hook-creation), so both helms can read them
        "--logs",
        timeout_s=240,
    )
    assert out.returncode == 0, f"{release.helm} test failed:\n{out.stdout}\n{out.stderr}"
    assert "TEST SUITE:" in out.stdout, out.stdout  # the release has tests, and they ran
    assert "POD LOGS:" in out.stdout, out.stdout


@pytest.mark.parametrize("pool, capacity", [("pool-on-demand", "on-demand"), ("pool-spot", "spot")])
def test_each_pool_serves_from_a_real_node_of_its_capacity_type(
    api: pykube.HTTPClient, release: Release, pool: str, capacity: str
) -> None:
    selector = {"app.kubernetes.io/instance": release.name, "app.kubernetes.io/component": pool}
    (pod,) = pykube.Pod.objects(api, namespace=release.namespace).filter(selector=selector)
    node = pykube.Node.objects(api).get(name=pod.obj["spec"]["nodeName"])
    assert capacity_type(node) == capacity
    assert node.labels.get("vllm-inference.local/node") == "real"
    serving = {a for e in ready_endpoints(api, release.namespace, release.service) for a in e["addresses"]}
    assert pod.obj["status"]["podIP"] in serving

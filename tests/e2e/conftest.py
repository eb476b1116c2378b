"""Fixtures of the end-to-end tier. The cluster is pytest-helm-charts' `kube_cluster` (KUBECONFIG, any
cluster with the local cluster's node-pool conventions); this adds its client, a throwaway namespace per
test (deleted and waited for afterwards, so the GPUs its pods held are free for the next test), a release of
the chart in it, and the figures each scenario prints (collected and printed again at the end of the run).

Scenarios marked `serial` change nodes (drain, reclaim, cordon) or need a node's every GPU; the others share
the cluster with each other, side by side under pytest-xdist (hack/cluster/e2e-tests.sh runs the two
groups). A figure travels in the test report's user_properties, so the summary has the figures of every
worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pykube
import pytest
from pytest_helm_charts.clusters import Cluster
from pytest_helm_charts.k8s.fixtures import NamespaceFactoryFunc

from .crds import install_missing_crds
from .kube import wait_until
from .release import Release
from .traffic import client_netns

FIGURES: list[str] = []
Figure = Callable[[str], None]


@pytest.fixture(scope="module")
def api(kube_cluster: Cluster) -> pykube.HTTPClient:
    client = kube_cluster.kube_client
    assert client is not None
    # Fail fast, naming the cluster, when it is not reachable.
    assert list(pykube.Node.objects(client)), f"the cluster of {kube_cluster.kube_config_path} has no nodes"
    return client


@pytest.fixture(scope="module")
def crds(kube_cluster: Cluster) -> Iterator[list[str]]:
    """KEDA, prometheus-operator and Gateway API CRDs on the cluster for the module (those it lacked)."""
    client = kube_cluster.kube_client
    assert client is not None
    yield from install_missing_crds(client)


@pytest.fixture
def namespace(api: pykube.HTTPClient, namespace_factory_function_scope: NamespaceFactoryFunc) -> str:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    namespace_factory_function_scope(name)
    accounts = pykube.ServiceAccount.objects(api, namespace=name)
    wait_until(f"default service account in {name}", lambda: accounts.get_or_none(name="default"), 30)
    return name


@pytest.fixture(scope="module")
def kubeconfig(kube_cluster: Cluster) -> str:
    return str(kube_cluster.kube_config_path)


@pytest.fixture
def release(api: pykube.HTTPClient, kube_cluster: Cluster, namespace: str) -> Iterator[Release]:
    """A release `sim` of the chart in the test's namespace (the test installs it), uninstalled after."""
    rel = Release(api, str(kube_cluster.kube_config_path), namespace)
    yield rel
    rel.uninstall()


@pytest.fixture
def node_client() -> Path:
    """The network namespace the load client runs in (a real node of the local cluster), or a skip: asked
    for before `release`, so a scenario that cannot send its traffic installs nothing."""
    return client_netns()


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Figure:
    """Print a figure of the scenario now and again in the run's summary."""

    def record(line: str) -> None:
        text = f"{request.node.name}: {line}"
        request.node.user_properties.append(("figure", text))
        print(f"\n[figure] {text}", flush=True)

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the figures of a finished test (in the controller under xdist: reports come from workers)."""
    if report.when == "teardown":
        FIGURES.extend(str(value) for key, value in report.user_properties if key == "figure")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("e2e figures")
        for line in FIGURES:
            terminalreporter.write_line(line)

"""Fixtures of the end-to-end tier. The cluster is pytest-helm-charts' `kube_cluster` (KUBECONFIG, any
cluster with the local cluster's node-pool conventions); this adds its client and a throwaway namespace per
test, deleted (and waited for) afterwards so the GPUs its pods held are free for the next test."""

from __future__ import annotations

import uuid

import pykube
import pytest
from pytest_helm_charts.clusters import Cluster
from pytest_helm_charts.k8s.fixtures import NamespaceFactoryFunc

from .kube import wait_until


@pytest.fixture(scope="module")
def api(kube_cluster: Cluster) -> pykube.HTTPClient:
    client = kube_cluster.kube_client
    assert client is not None
    # Fail fast, naming the cluster, when it is not reachable.
    assert list(pykube.Node.objects(client)), f"the cluster of {kube_cluster.kube_config_path} has no nodes"
    return client


@pytest.fixture
def namespace(api: pykube.HTTPClient, namespace_factory_function_scope: NamespaceFactoryFunc) -> str:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    namespace_factory_function_scope(name)
    accounts = pykube.ServiceAccount.objects(api, namespace=name)
    wait_until(f"default service account in {name}", lambda: accounts.get_or_none(name="default"), 30)
    return name

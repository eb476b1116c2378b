"""Fixtures of the end-to-end tier: a Kubernetes client for KUBECONFIG and a throwaway namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from .kube import delete_namespace, kubeconfig, wait_until


@pytest.fixture(scope="session")
def core() -> client.CoreV1Api:
    config.load_kube_config(config_file=kubeconfig())
    api = client.CoreV1Api()
    api.list_node(limit=1)  # fail fast, naming the cluster, when it is not reachable
    return api


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_until(f"default service account in {name}", lambda: _has_default_sa(core, name), 30)
    yield name
    delete_namespace(core, name)


def _has_default_sa(core: client.CoreV1Api, ns: str) -> bool:
    return any(sa.metadata.name == "default" for sa in core.list_namespaced_service_account(ns).items)

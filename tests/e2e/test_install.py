"""Install: every preset is accepted by the API server (server-side dry run, strict field validation, with
the real KEDA, prometheus-operator and Gateway API CRDs installed); the local-sim release installs, upgrades
and rolls back; it is admitted and serves in a namespace that enforces the restricted Pod Security
Standard. (`helm test` passing: tests/e2e/test_chart_local_sim.py, with helm 4 and helm 3.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pykube
import pytest
import yaml
from pytest_helm_charts.k8s.fixtures import NamespaceFactoryFunc

from .conftest import Figure
from .kube import ROOT, helm, kubectl
from .release import CHART, Release, run

PRESETS = sorted((ROOT / "values").glob("*.yaml"))


@pytest.fixture(scope="module")
def dry_run_namespace(namespace_factory: NamespaceFactoryFunc) -> str:
    """One namespace for every preset's dry run (nothing is created in it)."""
    name = f"e2e-presets-{uuid.uuid4().hex[:6]}"
    namespace_factory(name)
    return name


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_is_accepted_by_the_api_server(
    crds: list[str], kubeconfig: str, dry_run_namespace: str, preset: Path, figure: Figure
) -> None:
    namespace = dry_run_namespace
    rendered = run(helm(), "template", "sim", str(CHART), "-n", namespace, "-f", str(preset), timeout_s=60)
    assert rendered.returncode == 0, rendered.stderr
    kinds = sorted({d["kind"] for d in yaml.safe_load_all(rendered.stdout) if d})
    dry_run = ["create", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-"]
    accepted = run(kubectl(), "--kubeconfig", kubeconfig, *dry_run, timeout_s=60, stdin=rendered.stdout)
    assert accepted.returncode == 0, accepted.stderr
    figure(f"{preset.name}: {len(accepted.stdout.splitlines())} objects accepted ({', '.join(kinds)})")


def container_args(release: Release, pool: str) -> list[str]:
    dep = release.deployment(pool)
    dep.reload()
    (container,) = [c for c in dep.obj["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"]
    args: list[str] = container["args"]
    return args


def max_num_seqs(release: Release) -> str:
    args = container_args(release, "onDemand")
    return args[args.index("--max-num-seqs") + 1]


def test_the_local_sim_release_installs_upgrades_and_rolls_back(release: Release, figure: Figure) -> None:
    release.install(wait=True)
    release.wait_serving({"onDemand": 1, "spot": 1})
    assert max_num_seqs(release) == "64"

    release.upgrade(sets=["vllm.maxNumSeqs=32"])
    for pool in ("onDemand", "spot"):
        release.wait_rolled_out(pool)
    assert max_num_seqs(release) == "32"
    release.wait_serving({"onDemand": 1, "spot": 1})

    back = release.helm_cmd("rollback", release.name, "1", "--wait", "--timeout", "180s", timeout_s=240)
    assert back.returncode == 0, back.stderr
    for pool in ("onDemand", "spot"):
        release.wait_rolled_out(pool)
    assert max_num_seqs(release) == "64"
    release.wait_serving({"onDemand": 1, "spot": 1})

    history = release.helm_cmd("history", release.name, "-o", "yaml", timeout_s=30)
    revisions = [(h["revision"], h["status"]) for h in yaml.safe_load(history.stdout)]
    figure(f"history: {revisions}")
    assert revisions == [(1, "superseded"), (2, "superseded"), (3, "deployed")]


def test_the_release_is_admitted_and_serves_in_a_restricted_namespace(
    api: pykube.HTTPClient, release: Release, figure: Figure
) -> None:
    ns = pykube.Namespace.objects(api).get(name=release.namespace)
    enforce = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}
    ns.patch({"metadata": {"labels": {**enforce, "pod-security.kubernetes.io/enforce-version": "latest"}}})
    out = release.chart_cmd("upgrade", "--install", wait=True, timeout="120s")
    warnings = [line for line in out.stderr.splitlines() if "would violate PodSecurity" in line]
    assert out.returncode == 0 and not warnings, out.stderr
    release.wait_serving({"onDemand": 1, "spot": 1})
    tested = release.helm_cmd("test", release.name, "--timeout", "180s", timeout_s=240)
    assert tested.returncode == 0, (
        f"helm test in the restricted namespace failed:\n{tested.stdout}\n{tested.stderr}"
    )
    figure("restricted namespace: both pools serving, helm test passed")

"""Publish: the chart packaged, signed and pushed to a local OCI registry (Debian's docker-registry on
127.0.0.1), then installed from it on the cluster, verified, by helm 4 and by helm 3, with the guide's own
commands (docs/guide/publish.md, run as written but for the registry's port); and the upgrade from the
previous released version (git history, packaged and pushed too) to this one under steady load: 0 requests
lost, the Deployment selectors and the model-cache claim (its uid) kept."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pykube
import pytest
import yaml

from chart_publish.guide import run_block
from chart_publish.history import Released, checkout, previous_release
from chart_publish.package import chart_meta, package, push
from chart_publish.registry import free_port, local_registry
from chart_publish.signing import SigningKey, throwaway_key

from .conftest import Figure
from .kube import helm, host_path_volume
from .release import E2E_VALUES, Release
from .traffic import STREAMING, run_load, start_load

NAME, VERSION = chart_meta()["name"], chart_meta()["version"]
GUIDE_RELEASE = "vllm"  # the release name the guide's commands install


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return throwaway_key(tmp_path_factory.mktemp("key"))


@pytest.fixture
def helm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """helm's cache, config and data for the test alone (helm 4 caches pulled charts by digest)."""
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "helm-home" / var.lower()))


@pytest.fixture
def helm_env(helm_home: None, kubeconfig: str, namespace: str) -> dict[str, str]:
    """The environment a guide block runs in: the cluster and the test's namespace."""
    return {"KUBECONFIG": kubeconfig, "HELM_NAMESPACE": namespace}


@pytest.fixture
def guide_release(api: pykube.HTTPClient, kubeconfig: str, namespace: str) -> Iterator[Release]:
    rel = Release(api, kubeconfig, namespace, name=GUIDE_RELEASE)
    yield rel
    rel.uninstall()


def on_path(tmp_path: Path, binary: str) -> str:
    """A PATH whose `helm` is `binary` (helm 4 or helm 3), ahead of the rest."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "helm").symlink_to(binary)
    return f"{bin_dir}:{os.environ['PATH']}"


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], ids=["helm4", "helm3"])
def test_the_chart_pushed_to_a_local_oci_registry_installs_from_it_verified_with_the_guide_commands(
    tmp_path: Path,
    key: SigningKey,
    node_client: Path,
    helm_env: dict[str, str],
    guide_release: Release,
    figure: Figure,
    helm_name: str,
) -> None:
    env = {
        **helm_env,
        "PATH": on_path(tmp_path, helm(helm_name)),
        "HELM": helm(helm_name),  # make package / make push (hack/package.sh) with the same helm
        "DIST": str(tmp_path / "dist"),
        "REGISTRY_DIR": str(tmp_path / "registry"),
        "SIGN_KEY": key.uid,
        "KEYRING": str(key.secring),
        "PUBRING": str(key.pubring),
        "VALUES": "values/local-sim.yaml",
    }
    address = f"127.0.0.1:{free_port()}"
    try:
        published = run_block("publish-local", registry=address, env=env)
        assert published.returncode == 0, f"{published.stdout}\n{published.stderr}"
        assert f"Pushed: {address}/charts/{NAME}:{VERSION}" in published.stdout + published.stderr
        started = time.monotonic()
        installed = run_block("install-oci", registry=address, env=env)
        assert installed.returncode == 0, f"{installed.stdout}\n{installed.stderr}"
        took = time.monotonic() - started
        figure(f"{helm_name} install --verify --wait from oci://{address}: {took:.1f} s")
    finally:
        run_block("registry-down", registry=address, env=env)
    returned = time.monotonic()
    if helm_name == "helm":
        # helm 4 waits by kstatus: the Deployments are rolled out when install --wait returns.
        assert guide_release.ready_pods(), "helm 4's install --wait returned before a pod was Ready"
    # helm 3 counts a Deployment ready at replicas - maxUnavailable Ready pods: with the chart's in-place
    # rollout (maxUnavailable 1) and one replica per pool that is none (docs/guide/publish.md says so).
    guide_release.wait_serving({"onDemand": 1, "spot": 1})
    figure(f"{helm_name}: serving {time.monotonic() - returned:.1f} s after install --wait returned")
    one = ("--api", "completions", "--no-stream", "--concurrency", "1", "--requests", "1")
    report = run_load(guide_release.service_url, *one)
    figure(f"{helm_name}: {report['summary']}")
    assert report["ok"] == 1, report["errors"]
    deployed = guide_release.helm_cmd("list", "-o", "yaml", timeout_s=30)
    (entry,) = yaml.safe_load(deployed.stdout)
    assert entry["chart"] == f"{NAME}-{VERSION}" and entry["status"] == "deployed"


RATE, REQUESTS = 10, 300  # 30 s of steady load; the upgrade starts 5 s in


@pytest.fixture
def cache_volume(api: pykube.HTTPClient, namespace: str, tmp_path: Path) -> Iterator[Path]:
    """A ReadWriteMany PersistentVolume for the release's model-cache claim (the local cluster has no
    provisioner): a host directory (the real nodes share this host), offered under a storage class named for
    the test only. Yields a values file that points the claim at it; the volume is deleted after."""
    host_dir = Path(f"/var/tmp/vllm-e2e-cache-{namespace}")
    host_dir.mkdir(mode=0o777, exist_ok=True)
    host_dir.chmod(0o1777)  # the pods' non-root uid writes there
    pv = host_path_volume(api, f"cache-{namespace}", host_dir, storage_class=namespace)
    values = tmp_path / "cache-pvc.yaml"
    claim = {"size": "1Gi", "accessMode": "ReadWriteMany", "storageClassName": namespace}
    values.write_text(yaml.safe_dump({"modelCache": {"mode": "pvc", "pvc": claim}}))
    try:
        yield values
    finally:
        pv.delete()
        shutil.rmtree(host_dir, ignore_errors=True)


def selectors(release: Release) -> dict[str, object]:
    return {pool: release.deployment(pool).obj["spec"]["selector"] for pool in ("onDemand", "spot")}


def claim_uids(release: Release) -> dict[str, str]:
    claims = pykube.PersistentVolumeClaim.objects(release.api, namespace=release.namespace)
    return {c.name: c.obj["metadata"]["uid"] for c in claims}


def test_the_upgrade_from_the_previous_release_under_load_loses_no_request_and_keeps_selectors_and_claim(
    tmp_path: Path,
    key: SigningKey,
    helm_home: None,
    node_client: Path,
    cache_volume: Path,
    release: Release,
    figure: Figure,
) -> None:
    """The volume is asked for before the release, so it goes after the release's pods."""
    previous: Released = previous_release()
    old_tree = checkout(previous.commit, tmp_path / "previous")
    old_dist, new_dist = tmp_path / "dist-previous", tmp_path / "dist"
    package(old_dist, chart_dir=old_tree / "charts" / NAME, key=key)
    package(new_dist, key=key)
    # The values of that time (its local-sim preset), the surge rollout the local cluster's spare GPUs allow,
    # and the claim on the test's volume.
    values = [old_tree / "values" / "local-sim.yaml", E2E_VALUES / "rollout-surge.yaml", cache_volume]
    with local_registry(tmp_path) as address:
        repo = f"oci://{address}/charts"
        push(old_dist, repo, chart_dir=old_tree / "charts" / NAME)
        push(new_dist, repo)
        files = [a for f in values for a in ("-f", str(f))]
        ref = (f"{repo}/{NAME}", "--plain-http", "--verify", "--keyring", str(key.pubring))
        install = ("install", release.name, *ref, "--version", previous.version, *files)
        out = release.helm_cmd(*install, "--wait", "--timeout", "5m", timeout_s=330)
        assert out.returncode == 0, f"install of {previous.version} failed:\n{out.stderr}"
        release.wait_serving({"onDemand": 1, "spot": 1})
        before_selectors, before_claims = selectors(release), claim_uids(release)
        assert before_claims, "the previous release made no model-cache claim"
        old_pods = {p.name for p in release.pods()}

        rate = ("--rate", str(RATE), "--requests", str(REQUESTS), "--duration", str(REQUESTS / RATE))
        load = start_load(release.service_url, *STREAMING, *rate)
        time.sleep(5)
        upgrade_at = load.offset(time.monotonic())
        out = release.helm_cmd("upgrade", release.name, *ref, "--version", VERSION, *files, timeout_s=120)
        assert out.returncode == 0, f"upgrade to {VERSION} failed:\n{out.stderr}"
        done_at = max(load.offset(release.wait_rolled_out(pool)) for pool in ("onDemand", "spot"))
        deadline = time.monotonic() + 120
        while old_pods & {p.name for p in release.pods()} and time.monotonic() < deadline:
            time.sleep(0.5)
        gone_at = load.offset(time.monotonic())
        report = load.result()

    figure(f"{previous.version} -> {VERSION}: {report['summary']}")
    figure(f"upgrade at {upgrade_at:.1f} s, rolled out {done_at:.1f} s, old pods gone {gone_at:.1f} s")
    assert not old_pods & {p.name for p in release.pods()}, "old pods still there after the upgrade"
    starts = [r["start_s"] for r in report["requests"]]
    assert min(starts) < upgrade_at and max(starts) > gone_at, "the load does not span the upgrade"
    assert report["lost"] == 0, report["errors"]
    assert selectors(release) == before_selectors
    assert claim_uids(release) == before_claims
    history = yaml.safe_load(release.helm_cmd("history", release.name, "-o", "yaml", timeout_s=30).stdout)
    assert [h["chart"] for h in history] == [f"{NAME}-{previous.version}", f"{NAME}-{VERSION}"]

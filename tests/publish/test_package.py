"""make package / make push (hack/package.sh) against a real registry: the versioned package carries the
chart's README, the static repository index points at REPO_URL, a signed package verifies with its public key
(and a tampered one does not), and a chart pushed to a local OCI registry (Debian's docker-registry on
127.0.0.1) by helm 3 or helm 4 pulls back verified and renders what the chart folder renders."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from chart_publish.package import CHART, HELMS, ROOT, PackageFailed, chart_meta, package, push
from chart_publish.registry import local_registry
from chart_publish.signing import SigningKey, throwaway_key

META = chart_meta()
NAME, VERSION = META["name"], META["version"]


@pytest.fixture(autouse=True)
def helm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """helm's cache, config and data per test: helm 4 caches pulled content by digest, and a package
    signed by another test's key must not be served from there."""
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "helm-home" / var.lower()))


def helm(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return throwaway_key(tmp_path_factory.mktemp("key"))


def test_the_package_is_named_by_the_chart_version_and_carries_the_chart_readme(tmp_path: Path) -> None:
    tgz = package(tmp_path)
    assert tgz.name == f"{NAME}-{VERSION}.tgz" and tgz.is_file()
    with tarfile.open(tgz) as t:
        readme = t.extractfile(f"{NAME}/README.md")
        assert readme is not None
        assert readme.read().decode() == (CHART / "README.md").read_text()
        names = t.getnames()
    assert f"{NAME}/values.schema.json" in names
    assert f"{NAME}/README.md.gotmpl" not in names, "the README's template is not part of the package"


def test_the_repository_index_lists_the_package_at_the_repo_url_with_its_digest(tmp_path: Path) -> None:
    url = "https://charts.example.invalid/vllm"
    tgz = package(tmp_path, repo_url=url)
    index = yaml.safe_load((tmp_path / "index.yaml").read_text())
    (entry,) = index["entries"][NAME]
    assert entry["version"] == VERSION
    assert entry["urls"] == [f"{url}/{tgz.name}"]
    assert entry["digest"] == hashlib.sha256(tgz.read_bytes()).hexdigest()
    assert entry["annotations"]["artifacthub.io/license"] == META["annotations"]["artifacthub.io/license"]
    assert (tmp_path / "artifacthub-repo.yml").read_text() == (ROOT / "artifacthub-repo.yml").read_text()


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_a_signed_package_verifies_with_its_public_key_and_a_tampered_one_does_not(
    tmp_path: Path, key: SigningKey, helm_name: str
) -> None:
    binary = HELMS[helm_name]
    tgz = package(tmp_path / "dist", helm=binary, key=key)
    prov = tgz.with_name(tgz.name + ".prov")
    verified = helm(binary, "verify", "--keyring", str(key.pubring), str(tgz))
    assert prov.is_file() and key.uid in verified.stdout, verified.stderr

    tampered = tmp_path / "tampered" / tgz.name
    tampered.parent.mkdir()
    tampered.write_bytes(tgz.read_bytes() + b"\0")
    (tampered.parent / prov.name).write_bytes(prov.read_bytes())
    bad = helm(binary, "verify", "--keyring", str(key.pubring), str(tampered))
    assert bad.returncode != 0 and "sha256" in bad.stderr.lower(), bad.stderr


def test_a_package_signed_by_another_key_does_not_verify(tmp_path: Path, key: SigningKey) -> None:
    stranger = throwaway_key(tmp_path / "stranger", uid="someone else <else@example.invalid>")
    tgz = package(tmp_path / "dist", key=stranger)
    out = helm(HELMS["helm4"], "verify", "--keyring", str(key.pubring), str(tgz))
    assert out.returncode != 0, "a package signed by a key outside the keyring verified"
    assert "signature made by unknown entity" in out.stderr  # docs/guide/troubleshooting.md quotes it


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_a_chart_pushed_to_a_local_oci_registry_pulls_back_verified_and_renders_the_same(
    tmp_path: Path, key: SigningKey, helm_name: str
) -> None:
    binary = HELMS[helm_name]
    dist = tmp_path / "dist"
    package(dist, helm=binary, key=key)
    with local_registry(tmp_path) as address:
        repo = f"oci://{address}/charts"
        pushed = push(dist, repo, helm=binary)
        assert f"{address}/charts/{NAME}:{VERSION}" in pushed
        ref = (f"{repo}/{NAME}", "--version", VERSION, "--plain-http")
        pulled = tmp_path / "pulled"
        pulled.mkdir()
        out = helm(binary, "pull", *ref, "--verify", "--keyring", str(key.pubring), "-d", str(pulled))
        assert out.returncode == 0, out.stderr
        tgz = f"{NAME}-{VERSION}.tgz"
        assert (pulled / tgz).read_bytes() == (dist / tgz).read_bytes()
        assert (pulled / f"{NAME}-{VERSION}.tgz.prov").is_file(), "the provenance file was not pushed with it"
        from_oci = helm(binary, "template", "t", *ref, "--verify", "--keyring", str(key.pubring))
    from_dir = helm(binary, "template", "t", str(CHART))
    assert from_oci.returncode == 0, from_oci.stderr
    assert from_oci.stdout == from_dir.stdout


def test_push_without_a_registry_or_with_a_non_oci_one_is_refused_by_name(tmp_path: Path) -> None:
    package(tmp_path)
    with pytest.raises(PackageFailed, match="OCI_REGISTRY is not set"):
        push(tmp_path, "")
    with pytest.raises(PackageFailed, match=r"OCI_REGISTRY=https://example\.invalid must start with oci://"):
        push(tmp_path, "https://example.invalid")


def test_signing_with_a_missing_keyring_is_refused_naming_it(tmp_path: Path, key: SigningKey) -> None:
    missing = SigningKey(key.uid, tmp_path / "nope.gpg", key.pubring)
    with pytest.raises(PackageFailed, match=f"KEYRING={tmp_path / 'nope.gpg'} does not exist"):
        package(tmp_path / "dist", key=missing)
    assert not (tmp_path / "dist" / f"{NAME}-{VERSION}.tgz").exists(), "a package was half-written"

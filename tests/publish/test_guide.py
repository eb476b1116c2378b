"""The guide's commands are the ones the tests run (tools/chart_publish/guide.py): the publish blocks of
docs/guide/publish.md run here as written (a local registry, make package signed, make push, helm pull
--verify, make registry-down) but for the registry's port; the install block runs on the cluster in
tests/e2e/test_publish.py; every block shown for the published chart is a tested block's public form; and
every chart version a guide command names is the chart's."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from chart_publish.guide import block_named, blocks, public_form, run_block
from chart_publish.package import HELMS, chart_meta
from chart_publish.registry import free_port
from chart_publish.signing import throwaway_key

META = chart_meta()
NAME, VERSION = META["name"], META["version"]
E2E = Path(__file__).resolve().parents[1] / "e2e" / "test_publish.py"


def test_the_guide_marks_the_blocks_the_tests_run() -> None:
    names = {b.name for b in blocks() if b.kind == "test"}
    assert {"publish-local", "pull-verify", "repo-pull", "install-oci", "registry-down"} <= names
    assert all(
        f'run_block("{n}"' in E2E.read_text() for n in ("publish-local", "install-oci", "registry-down")
    )


def test_every_command_shown_for_the_published_chart_is_a_tested_command_in_its_public_form() -> None:
    shown = [b for b in blocks() if b.kind == "same-as"]
    assert shown, "the guide shows no command for the published chart"
    for block in shown:
        assert block.text == public_form(block_named(block.name).text), (
            f"{block.source.name}: {block.name} drifted"
        )


def test_every_chart_version_in_the_guide_commands_is_the_charts() -> None:
    versions = {v for b in blocks() for v in re.findall(r"--version (\S+)", b.text)}
    assert versions == {VERSION}, f"guide commands name versions {versions}; the chart is {VERSION}"
    docs = [*(Path(__file__).resolve().parents[2] / "docs" / "guide").glob("*.md")]
    docs.append(Path(__file__).resolve().parents[2] / "README.md")
    named = {v for d in docs for v in re.findall(r"vllm-inference\S* --version (\S+)", d.read_text())}
    assert named == {VERSION}, f"the guide and README install versions {named}; the chart is {VERSION}"


def wait_for_port(port: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_the_guide_publish_and_pull_blocks_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helm_name: str
) -> None:
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "helm-home" / var.lower()))
    key = throwaway_key(tmp_path / "key")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "helm").symlink_to(HELMS[helm_name])
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HELM": str(HELMS[helm_name]),
        "DIST": str(tmp_path / "dist"),
        "REGISTRY_DIR": str(tmp_path / "registry"),
        "SIGN_KEY": key.uid,
        "KEYRING": str(key.secring),
        "PUBRING": str(key.pubring),
    }
    address, pages = f"127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    env["REPO_URL"] = pages  # make package writes the index for where build/dist is served
    pulled, from_repo = tmp_path / "pulled", tmp_path / "from-repo"
    pulled.mkdir()
    from_repo.mkdir()
    server = None
    try:
        published = run_block("publish-local", registry=address, env=env)
        assert published.returncode == 0, f"{published.stdout}\n{published.stderr}"
        assert (tmp_path / "dist" / f"{NAME}-{VERSION}.tgz.prov").is_file()
        pull = run_block("pull-verify", registry=address, env=env, cwd=pulled)
        assert pull.returncode == 0, pull.stderr
        assert f"Signed by: {key.uid}" in pull.stdout + pull.stderr
        assert (pulled / f"{NAME}-{VERSION}.tgz").is_file()

        port = pages.rsplit(":", 1)[1]
        serve = [sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1", "--directory", env["DIST"]]
        server = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(int(port))
        repo = run_block("repo-pull", registry=address, env=env, cwd=from_repo, pages=pages)
        assert repo.returncode == 0, repo.stdout + repo.stderr
        assert f"Signed by: {key.uid}" in repo.stdout + repo.stderr
        assert (from_repo / f"{NAME}-{VERSION}.tgz").read_bytes() == (
            pulled / f"{NAME}-{VERSION}.tgz"
        ).read_bytes()
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        down = run_block("registry-down", registry=address, env=env)
    assert down.returncode == 0, down.stderr
    assert not (tmp_path / "registry").exists(), "make registry-down left the registry's data"


REFUSED = re.compile(r"^<!-- refused: (.+?) -->\n```text\n(.*?)^```", re.M | re.S)
TROUBLESHOOTING = Path(__file__).resolve().parents[2] / "docs" / "guide" / "troubleshooting.md"


def refusals() -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in REFUSED.finditer(TROUBLESHOOTING.read_text())]


def test_the_troubleshooting_page_quotes_chart_refusals() -> None:
    assert len(refusals()) >= 5


@pytest.mark.parametrize(("flags", "message"), refusals(), ids=[m[:40] for _, m in refusals()])
def test_each_troubleshooting_message_is_what_the_chart_prints_for_its_values(
    flags: str, message: str
) -> None:
    root = Path(__file__).resolve().parents[2]
    argv = [str(HELMS["helm4"]), "template", "t", str(root / "charts" / NAME), *shlex.split(flags)]
    out = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode != 0, f"the chart accepts {flags}"
    assert " ".join(message.split()) in " ".join(out.stderr.split()), out.stderr


def dotted(tree: dict[str, object], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in tree.items():
        out.add(f"{prefix}{k}")
        if isinstance(v, dict):
            out |= dotted(v, f"{prefix}{k}.")
    return out


def test_every_values_key_the_guide_names_is_a_key_of_the_chart() -> None:
    chart = Path(__file__).resolve().parents[2] / "charts" / NAME
    values = yaml.safe_load((chart / "values.yaml").read_text())
    removed = set(yaml.safe_load((chart / "files" / "removed-values.yaml").read_text()))
    known = dotted(values) | removed
    unknown = []
    for page in sorted((Path(__file__).resolve().parents[2] / "docs" / "guide").glob("*.md")):
        for key in re.findall(r"`([a-zA-Z]+(?:\.[a-zA-Z<>]+)+)`", page.read_text()):
            if key.split(".")[0] in values and key.replace("<pool>", "onDemand") not in known:
                unknown.append(f"{page.name}: {key}")
    assert unknown == []

"""The pod the chart renders starts on the real image under a restricted context: run by the simulator as a
uid with no passwd entry (vllm/vllm-openai has none), with exactly the rendered environment and only the
rendered writable mounts writable (chart_harness/pod_process.py). Take USER/LOGNAME or the HOME volume away,
as a chart regression would, and the same start dies as the real server does."""

from __future__ import annotations

import copy
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chart_harness import pod_process
from chart_harness.render import ROOT, render_chart

SWITCH, WHY = pod_process.can_switch_uid()
as_other_uid = pytest.mark.skipif(not SWITCH, reason=f"cannot run a process as another uid here: {WHY}")
LOCAL_SIM = ROOT / "values" / "local-sim.yaml"
FULL = "test-vllm-inference"
SIM_ENV = {"VLLM_SIM_GPU": "L4", "VLLM_SIM_LOAD_SECONDS": "0"}


def _container(values: dict[str, Any] | None = None, files: list[Path] | None = None) -> dict[str, Any]:
    r = render_chart(values or {}, values_files=files or [], show_only=["templates/deployment.yaml"])
    pod = r.get("Deployment", f"{FULL}-on-demand")["spec"]["template"]["spec"]
    container: dict[str, Any] = pod["containers"][0]
    return container


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


@pytest.fixture
def scratch() -> Iterator[Path]:
    with pod_process.reachable_dir() as path:
        yield path


def _exit_of(container: dict[str, Any], scratch: Path) -> tuple[int, str]:
    sim = pod_process.start(container, scratch, SIM_ENV)
    try:
        code = sim.proc.wait(timeout=60)
    finally:
        sim.stop()
    return code, sim.output()


@as_other_uid
def test_the_rendered_pod_serves_as_a_uid_without_a_passwd_entry_on_a_read_only_root(scratch: Path) -> None:
    container = _container(files=[LOCAL_SIM])
    sim = pod_process.start(container, scratch, SIM_ENV)
    try:
        sim.wait_ready(60)
        with urllib.request.urlopen(f"{sim.url}/v1/models", timeout=10) as resp:
            assert resp.status == 200
    finally:
        sim.stop()
    home = Path(pod_process.Sandbox(scratch / "rootfs", 0).path(_env(container)["HOME"]))
    assert (home / ".cache" / "vllm").is_dir(), "the server wrote no cache under the rendered HOME"


@as_other_uid
def test_without_user_and_logname_the_rendered_pod_dies_of_getpwuid_like_the_real_image(
    scratch: Path,
) -> None:
    container = _container(files=[LOCAL_SIM])
    container["env"] = [e for e in container["env"] if e["name"] not in ("USER", "LOGNAME")]
    code, output = _exit_of(container, scratch)
    assert code == 1
    assert "KeyError: 'getpwuid(): uid not found: " in output


@as_other_uid
def test_without_the_home_volume_the_rendered_pod_cannot_write_its_caches(scratch: Path) -> None:
    container = copy.deepcopy(_container(files=[LOCAL_SIM]))
    home = _env(container)["HOME"]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["mountPath"] != home]
    code, output = _exit_of(container, scratch)
    assert code == 1
    assert "Permission denied" in output and "must be writable" in output


@as_other_uid
def test_a_compile_cache_kept_on_the_model_cache_volume_starts_too(scratch: Path) -> None:
    container = _container({"modelCache": {"persistCompileCache": True}}, files=[LOCAL_SIM])
    sim = pod_process.start(container, scratch, SIM_ENV)
    try:
        sim.wait_ready(60)
    finally:
        sim.stop()
    cache = Path(pod_process.Sandbox(scratch / "rootfs", 0).path("/models-cache"))
    assert (cache / "compile-cache" / "vllm").is_dir() and (
        cache / "compile-cache" / "torchinductor"
    ).is_dir()


def test_the_server_is_named_and_every_cache_points_into_home_tmp_or_the_model_cache() -> None:
    env = _env(_container())
    assert (env["USER"], env["LOGNAME"], env["HOME"], env["TMPDIR"]) == ("vllm", "vllm", "/home/vllm", "/tmp")
    assert env["VLLM_CACHE_ROOT"] == "/home/vllm/.cache/vllm"
    assert env["TRITON_CACHE_DIR"] == "/home/vllm/.cache/triton"
    assert env["TORCHINDUCTOR_CACHE_DIR"] == "/tmp/torchinductor"
    assert env["FLASHINFER_WORKSPACE_BASE"] == "/home/vllm"
    assert env["HF_HOME"] == "/models-cache"
    kept = _env(_container({"modelCache": {"mode": "pvc", "persistCompileCache": True}}))
    assert kept["VLLM_CACHE_ROOT"] == "/models-cache/compile-cache/vllm"
    assert kept["TORCHINDUCTOR_CACHE_DIR"] == "/models-cache/compile-cache/torchinductor"


def test_ephemeral_storage_covers_home_tmp_an_empty_dir_cache_and_the_container_itself() -> None:
    def storage(values: dict[str, Any]) -> tuple[str, str]:
        res = _container(values)["resources"]
        return res["requests"]["ephemeral-storage"], res["limits"]["ephemeral-storage"]

    assert storage({}) == ("51Gi", "51Gi")  # 40Gi cache + 5Gi HOME + 5Gi /tmp + 1Gi container
    assert storage({"modelCache": {"mode": "pvc"}}) == ("11Gi", "11Gi")  # the claim is not node storage
    assert storage({"home": {"sizeLimit": "512Mi"}, "modelCache": {"mode": "pvc"}}) == ("6656Mi", "6656Mi")
    mine = {"resources": {"requests": {"ephemeral-storage": "80Gi"}, "limits": {"ephemeral-storage": "90Gi"}}}
    assert storage(mine) == ("80Gi", "90Gi")


def test_home_and_tmp_are_size_limited_empty_dirs() -> None:
    r = render_chart({"home": {"sizeLimit": "3Gi"}, "tmp": {"sizeLimit": "2Gi"}})
    volumes = {
        v["name"]: v for v in r.get("Deployment", f"{FULL}-on-demand")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["home"]["emptyDir"] == {"sizeLimit": "3Gi"}
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "2Gi"}

"""The simulator starts, or dies, as the real vllm/vllm-openai image does under a restricted pod: as a uid
with no passwd entry it needs USER/LOGNAME (torch's getpass.getuser() raises KeyError without them) and
writable caches. Each process test runs `vllm serve` as a real uid without a passwd entry, with a crafted
environment and nothing else of this process's; it passed the start-up checks when it gets as far as vLLM's
argument parser (exit 2 on a misspelt flag)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sim_helpers import QWEN

from chart_harness.pod_process import can_switch_uid, command_as, reachable_dir, uid_without_passwd_entry
from vllm_sim import runtime_env

SWITCH, WHY = can_switch_uid()
as_other_uid = pytest.mark.skipif(not SWITCH, reason=f"cannot run a process as another uid here: {WHY}")
# A misspelt flag: a server that passed the start-up checks exits 2 at the argument parser.
PAST_THE_CHECKS = [QWEN, "--max-num-seq", "8"]


def _as_uid(uid: int, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv, switch, pythonpath = command_as(uid, ["serve", *args])
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": pythonpath, "VLLM_SIM_GPU": "L4"}
    return subprocess.run(
        argv, env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=60, check=False, **switch
    )


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory the other uid can reach."""
    with reachable_dir() as path:
        yield path


@pytest.fixture
def writable(scratch: Path) -> Path:
    """A directory the other uid may write (HOME, TMPDIR, caches)."""
    path = scratch / "writable"
    path.mkdir()
    path.chmod(0o777)
    return path


def test_user_name_looks_the_effective_uid_up_when_no_user_variable_is_set() -> None:
    uid = uid_without_passwd_entry()
    with pytest.raises(KeyError, match=f"getpwuid\\(\\): uid not found: {uid}"):
        runtime_env.user_name({}, uid)
    assert runtime_env.user_name({"LOGNAME": "vllm", "USER": "other"}, uid) == "vllm"
    assert runtime_env.user_name({"USER": "vllm"}, uid) == "vllm"


def test_cache_directories_follow_the_variables_and_fall_back_under_home_and_tmp() -> None:
    dirs = runtime_env.cache_dirs({}, "vllm", "/home/x", "/tmp")
    assert dirs == {
        "VLLM_CACHE_ROOT": "/home/x/.cache/vllm",
        "TRITON_CACHE_DIR": "/home/x/.triton/cache",
        "TORCHINDUCTOR_CACHE_DIR": "/tmp/torchinductor_vllm",
        "FLASHINFER_WORKSPACE_BASE": "/home/x/.cache/flashinfer",
        "HF_HOME": "/home/x/.cache/huggingface",
    }
    env = {"XDG_CACHE_HOME": "/c", "TRITON_CACHE_DIR": "/t", "HF_HUB_OFFLINE": "1"}
    dirs = runtime_env.cache_dirs(env, "vllm", "/home/x", "/tmp")
    assert (dirs["VLLM_CACHE_ROOT"], dirs["TRITON_CACHE_DIR"], "HF_HOME" in dirs) == ("/c/vllm", "/t", False)


@as_other_uid
def test_without_user_or_logname_a_uid_with_no_passwd_entry_dies_of_getpwuid(writable: Path) -> None:
    uid = uid_without_passwd_entry()
    run = _as_uid(uid, {"HOME": str(writable)}, writable, *PAST_THE_CHECKS)
    assert run.returncode == 1, run.stderr
    assert f"KeyError: 'getpwuid(): uid not found: {uid}'" in run.stderr


@as_other_uid
def test_with_user_home_and_writable_caches_the_same_uid_starts(writable: Path) -> None:
    env = {"USER": "vllm", "LOGNAME": "vllm", "HOME": str(writable), "TMPDIR": str(writable)}
    run = _as_uid(uid_without_passwd_entry(), env, writable, *PAST_THE_CHECKS)
    assert run.returncode == 2, run.stderr
    assert "unrecognized arguments: --max-num-seq" in run.stderr
    assert (writable / ".cache" / "vllm").is_dir() and (writable / "torchinductor_vllm").is_dir()


@as_other_uid
def test_a_cache_directory_the_uid_cannot_write_stops_the_start_naming_the_variable(
    scratch: Path, writable: Path
) -> None:
    locked = scratch / "home"  # like HOME on the image's read-only root: owned by someone else
    locked.mkdir()
    locked.chmod(0o755 if os.geteuid() == 0 else 0o555)
    env = {"USER": "vllm", "HOME": str(locked), "TMPDIR": str(writable)}
    run = _as_uid(uid_without_passwd_entry(), env, writable, *PAST_THE_CHECKS)
    assert run.returncode == 1, run.stderr
    assert "PermissionError: [Errno 13] Permission denied" in run.stderr
    assert "(from VLLM_CACHE_ROOT) must be writable" in run.stderr


@as_other_uid
def test_pointing_every_cache_elsewhere_lets_the_uid_start_with_a_read_only_home(
    scratch: Path, writable: Path
) -> None:
    locked = scratch / "home"
    locked.mkdir()
    locked.chmod(0o755 if os.geteuid() == 0 else 0o555)
    env = {
        "USER": "vllm",
        "HOME": str(locked),
        "TMPDIR": str(writable),
        "XDG_CACHE_HOME": str(writable / "cache"),
        "TRITON_CACHE_DIR": str(writable / "triton"),
        "FLASHINFER_WORKSPACE_BASE": str(writable),
    }
    run = _as_uid(uid_without_passwd_entry(), env, writable, *PAST_THE_CHECKS)
    assert run.returncode == 2, run.stderr

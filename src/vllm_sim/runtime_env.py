"""What the real `vllm/vllm-openai` image needs from its environment before it can serve, checked the way the
real server trips over it, so that a pod spec that would crash the real image crashes the simulator too.

1. A user name. torch calls `getpass.getuser()` at import (its inductor cache directory defaults to
   /tmp/torchinductor_<user>): that reads LOGNAME, USER, LNAME, USERNAME and, when all are unset, looks the
   uid up in the password database. The image has no passwd entry for a non-root uid, so a restricted pod
   (runAsUser: 1000) without USER/LOGNAME dies at import with `KeyError: 'getpwuid(): uid not found: 1000'`.
2. Writable caches. vLLM (VLLM_CACHE_ROOT, under XDG_CACHE_HOME or ~/.cache), triton (TRITON_CACHE_DIR, else
   ~/.triton/cache), torch inductor (TORCHINDUCTOR_CACHE_DIR, else <tmp>/torchinductor_<user>), flashinfer
   (FLASHINFER_WORKSPACE_BASE, else ~, then .cache/flashinfer) and Hugging Face (HF_HOME, else
   XDG_CACHE_HOME/huggingface; skipped with HF_HUB_OFFLINE) create and write their directories. On a
   read-only root filesystem, or with HOME at `/` (what the container runtime sets for a uid without a
   passwd entry), that fails with the OS's own error, here raised at start with the variable named.
3. A temporary directory: Python's tempfile finds none on a read-only root without a writable /tmp or TMPDIR.

Each check really does the operation (pwd.getpwuid on the effective uid, os.makedirs and a file written
and removed in every cache directory, tempfile.gettempdir()), so the answer is the system's, not a guess, and
the exception is the one the real server dies of (an uncaught traceback, exit status 1), with a note naming
the variable where a directory is at fault.
"""

from __future__ import annotations

import os
import pwd
import tempfile
from collections.abc import Mapping
from pathlib import Path

# getpass.getuser()'s order.
USER_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")


def user_name(env: Mapping[str, str], uid: int) -> str:
    """getpass.getuser(): the first user variable set, else the password database's entry for `uid`."""
    for var in USER_VARIABLES:
        if env.get(var):
            return env[var]
    # KeyError: 'getpwuid(): uid not found: 1000' where the image has no entry, as torch dies of it
    return pwd.getpwuid(uid).pw_name


def cache_dirs(env: Mapping[str, str], user: str, home_dir: str, tmp: str) -> dict[str, str]:
    """Every directory the server writes at start, by the variable naming it (its default when unset)."""
    cache_home = env.get("XDG_CACHE_HOME") or os.path.join(home_dir, ".cache")
    dirs = {
        "VLLM_CACHE_ROOT": env.get("VLLM_CACHE_ROOT") or os.path.join(cache_home, "vllm"),
        "TRITON_CACHE_DIR": env.get("TRITON_CACHE_DIR")
        or os.path.join(env.get("TRITON_HOME") or home_dir, ".triton", "cache"),
        "TORCHINDUCTOR_CACHE_DIR": env.get("TORCHINDUCTOR_CACHE_DIR")
        or os.path.join(tmp, f"torchinductor_{user}"),
        "FLASHINFER_WORKSPACE_BASE": os.path.join(
            env.get("FLASHINFER_WORKSPACE_BASE") or home_dir, ".cache", "flashinfer"
        ),
    }
    if env.get("HF_HUB_OFFLINE", "").lower() not in ("1", "true", "yes", "on"):
        dirs["HF_HOME"] = env.get("HF_HOME") or os.path.join(cache_home, "huggingface")
    return dirs


def _writable(variable: str, path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
        probe = Path(path) / f".vllm-sim-write-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        exc.add_note(
            f"vllm-sim: the cache directory {path} (from {variable}) must be writable: on a read-only root "
            "filesystem point it at a writable volume"
        )
        raise


def check(uid: int | None = None) -> None:
    """Raise what the real image's server dies of at start in this process's environment, as `uid` (the
    effective uid by default): KeyError (no user name), FileNotFoundError (no temporary directory) or an
    OSError such as PermissionError or `[Errno 30] Read-only file system` (a cache it cannot write)."""
    env = os.environ
    uid = os.geteuid() if uid is None else uid
    user = user_name(env, uid)
    tmp = tempfile.gettempdir()  # FileNotFoundError: No usable temporary directory found in [...]
    # HOME, else the passwd entry; with neither, "~" stays as is and the caches land in the working directory
    home = os.path.expanduser("~")
    for variable, path in cache_dirs(env, user, home, tmp).items():
        _writable(variable, path)

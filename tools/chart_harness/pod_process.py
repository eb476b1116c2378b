"""Run a rendered pod's vLLM container as a local simulator process under the restrictions a restricted pod
meets on the real `vllm/vllm-openai` image, without a cluster:

- a uid with no passwd entry (the image has none for runAsUser), the process's effective uid for real: as
  root through setuid in the child, otherwise through an unprivileged user namespace (`unshare --map-user`);
- a read-only root filesystem: a scratch "rootfs" the uid cannot write, in which every writable volume mount
  of the container is a directory it can write; every absolute path of the rendered environment is moved
  under that rootfs;
- the environment exactly as rendered (values only; nothing of this process's own leaks in but PATH and the
  Python path), and HOME=/ when the pod sets none, as the container runtime does for a uid without a passwd
  entry.

So a chart that forgets USER/LOGNAME, a cache directory or a volume fails here as the real image would.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from vllm_sim.launch import SimProcess, free_port

from .render import ROOT

Obj = Mapping[str, Any]


def uid_without_passwd_entry(start: int = 40000) -> int:
    """The first uid from `start` that the password database does not know."""
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


@contextmanager
def reachable_dir() -> Iterator[Path]:
    """A scratch directory another uid can reach (pytest's tmp_path sits under a 0700 directory), removed
    afterwards whatever the modes left inside it."""
    path = Path(tempfile.mkdtemp(prefix="vllm-pod-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for sub in [path, *path.rglob("*")]:
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


def _switch(uid: int) -> tuple[list[str], dict[str, Any]]:
    """(argv prefix, Popen keyword arguments) that run a command as `uid`: setuid in the child as root,
    an unprivileged user namespace mapping this user to `uid` otherwise."""
    if os.geteuid() == 0:
        return [], {"user": uid, "group": uid, "extra_groups": []}
    return ["unshare", "--user", f"--map-user={uid}", f"--map-group={uid}"], {}


@cache
def python_for(uid: int) -> tuple[str, str] | None:
    """(interpreter, extra PYTHONPATH) that `uid` can run with this project's dependencies: this
    interpreter if the uid can reach it, else a system python3 of the same version given this
    interpreter's site-packages (a pyenv under a 0700 /root is out of its reach). None if neither runs."""
    site = next((p for p in sys.path if p.endswith("site-packages")), "")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [(sys.executable, "")] + [
        (found, site) for found in (shutil.which(f"python{version}"), "/usr/bin/python3") if found
    ]
    prefix, kwargs = _switch(uid)
    for python, extra in candidates:
        probe = [*prefix, python, "-c", f"import sys; assert sys.version.startswith('{version}')"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": extra}
        try:
            ran = subprocess.run(
                probe, env=env, cwd="/", capture_output=True, check=False, timeout=30, **kwargs
            )
        except OSError:
            continue
        if ran.returncode == 0:
            return python, extra
    return None


def can_switch_uid() -> tuple[bool, str]:
    """Whether this machine can run this project's Python as another uid (root, or user namespaces)."""
    if os.geteuid() != 0 and shutil.which("unshare") is None:
        return False, "not root and no unshare binary"
    if python_for(uid_without_passwd_entry()) is None:
        return False, "no Python interpreter another uid can run (not root, and no user namespaces?)"
    return True, "root" if os.geteuid() == 0 else "user namespaces"


def command_as(uid: int, args: list[str]) -> tuple[list[str], dict[str, Any], str]:
    """(argv, Popen keyword arguments, PYTHONPATH) running `python -m vllm_sim ARGS` as `uid`."""
    found = python_for(uid)
    if found is None:
        raise RuntimeError("no Python interpreter this uid can run: see can_switch_uid()")
    python, extra = found
    prefix, kwargs = _switch(uid)
    pythonpath = os.pathsep.join(p for p in (str(ROOT / "src"), extra) if p)
    return [*prefix, python, "-m", "vllm_sim", *args], kwargs, pythonpath


@dataclass(frozen=True)
class Sandbox:
    """Where the pod's filesystem lives here, and the uid it runs as."""

    rootfs: Path
    uid: int

    def path(self, in_pod: str) -> str:
        return str(self.rootfs / in_pod.lstrip("/"))


def sandbox(base: Path, container: Obj, uid: int) -> Sandbox:
    """A rootfs the uid cannot write, with the container's writable mounts as directories it can."""
    rootfs = base / "rootfs"
    rootfs.mkdir(parents=True)
    writable = set()
    for mount in container.get("volumeMounts") or []:
        target = rootfs / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        if not mount.get("readOnly"):
            writable.add(target)
    for directory in [rootfs, *(p for p in rootfs.rglob("*") if p.is_dir())]:
        if directory in writable:
            directory.chmod(0o777)
            if os.geteuid() == 0:
                os.chown(directory, uid, uid)
        else:  # root-owned 0755 when root runs this; 0555 for an unprivileged owner mapped to the uid
            directory.chmod(0o755 if os.geteuid() == 0 else 0o555)
    return Sandbox(rootfs, uid)


def pod_env(
    container: Obj, box: Sandbox, pythonpath: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The container's literal environment with its absolute paths moved into the sandbox."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": pythonpath,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for var in container.get("env") or []:
        if "value" in var:
            value = str(var["value"])
            env[var["name"]] = box.path(value) if value.startswith("/") else value
    env.setdefault("HOME", box.path("/"))  # the runtime's HOME for a uid without a passwd entry
    return {**env, **(extra or {})}


def start(container: Obj, base: Path, extra_env: Mapping[str, str] | None = None) -> SimProcess:
    """`vllm serve <the container's args>` as the simulator, on 127.0.0.1 and a free port, as a uid without a
    passwd entry in the container's sandbox. Returns without waiting: call wait_ready() or wait()."""
    uid = uid_without_passwd_entry()
    box = sandbox(base, container, uid)
    port = free_port()
    args = [str(a) for a in container.get("args") or []]
    if "--port" in args:
        args[args.index("--port") + 1] = str(port)
    else:
        args += ["--port", str(port)]
    argv, switch, pythonpath = command_as(uid, ["serve", *args, "--host", "127.0.0.1"])
    log = base / f"pod-{port}.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            argv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=pod_env(container, box, pythonpath, extra_env),
            cwd=box.rootfs,
            text=True,
            **switch,
        )
    return SimProcess(proc, port, log)

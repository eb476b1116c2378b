"""A local OCI registry for a test: hack/registry.sh (Debian's docker-registry, plain HTTP, 127.0.0.1) on a
free port with its data under the test's own directory, stopped by PID when the test is done."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SH = ROOT / "hack" / "registry.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _script(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGISTRY_DIR": str(workdir / "registry")}
    return subprocess.run(
        ["bash", str(REGISTRY_SH), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@contextmanager
def local_registry(workdir: Path) -> Iterator[str]:
    """Yields the registry's address (127.0.0.1:PORT) while it runs."""
    up = _script(workdir, "up", str(free_port()))
    assert up.returncode == 0, f"registry.sh up failed:\n{up.stdout}\n{up.stderr}"
    try:
        yield up.stdout.strip()
    finally:
        down = _script(workdir, "down")
        assert down.returncode == 0, f"registry.sh down failed:\n{down.stderr}"

"""A throwaway GnuPG signing key (Debian's gnupg), exported as the legacy keyrings helm reads:
`helm package --sign --keyring secring.gpg`, `helm verify --keyring pubring.gpg`. helm reads those files
itself, so the key's GnuPG home (and the gpg-agent gpg starts for it) is gone once they are written."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

UID = "vllm-inference test signing key <test-signing@example.invalid>"


@dataclass(frozen=True)
class SigningKey:
    uid: str
    secring: Path
    pubring: Path


def _gpg(home: str, *args: str) -> bytes:
    out = subprocess.run(
        ["gpg", "--homedir", home, "--batch", "--quiet", *args], capture_output=True, timeout=120, check=False
    )
    assert out.returncode == 0, f"gpg {' '.join(args)} failed:\n{out.stderr.decode()}"
    return out.stdout


def throwaway_key(workdir: Path, uid: str = UID) -> SigningKey:
    """A new passphrase-less RSA signing key (valid one day), its keyrings written into workdir."""
    workdir.mkdir(parents=True, exist_ok=True)
    # A short home: gpg-agent's socket path must fit in a Unix socket address (108 bytes).
    home = tempfile.mkdtemp(prefix="vi-gpg-")
    try:
        _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "rsa3072", "sign", "1d")
        secring, pubring = workdir / "secring.gpg", workdir / "pubring.gpg"
        secring.write_bytes(_gpg(home, "--export-secret-keys", uid))
        pubring.write_bytes(_gpg(home, "--export", uid))
    finally:
        kill = ["gpgconf", "--homedir", home, "--kill", "all"]
        subprocess.run(kill, capture_output=True, timeout=30, check=False)
        shutil.rmtree(home, ignore_errors=True)
    return SigningKey(uid, secring, pubring)

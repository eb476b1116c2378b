"""The guide's commands as the tests run them. A fenced block in docs/guide/*.md right after a marker line
`<!-- test: NAME -->` is run by a test (`run_block`), its local registry address replaced by the test's own;
a block after `<!-- same-as: NAME -->` is NAME's command for the published chart (GHCR, TLS), and must equal
it once the local address becomes the public one and --plain-http goes (`public_form`). So the guide cannot
show a command the tests do not run."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide"
LOCAL_REGISTRY = "127.0.0.1:5000"
LOCAL_REPO = f"oci://{LOCAL_REGISTRY}/charts"
PUBLIC_REPO = "oci://ghcr.io/vllm-inference/charts"
# The static chart repository: build/dist served locally, GitHub Pages when published.
LOCAL_PAGES = "http://127.0.0.1:8879"
PUBLIC_PAGES = "https://vllm-inference.github.io/vllm-inference"
_BLOCK = re.compile(r"^<!-- (test|same-as): ([\w-]+) -->\n```(?:sh|bash|console)?\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Block:
    kind: str  # test | same-as
    name: str
    text: str
    source: Path


def blocks(guide: Path = GUIDE) -> list[Block]:
    return [
        Block(m[1], m[2], m[3], path)
        for path in sorted(guide.glob("*.md"))
        for m in _BLOCK.finditer(path.read_text())
    ]


def block_named(name: str) -> Block:
    found = [b for b in blocks() if b.kind == "test" and b.name == name]
    assert len(found) == 1, f"docs/guide has {len(found)} blocks marked <!-- test: {name} --> (want one)"
    return found[0]


def public_form(text: str) -> str:
    """A tested command as a user of the published chart types it."""
    public = text.replace(LOCAL_REPO, PUBLIC_REPO).replace(LOCAL_PAGES, PUBLIC_PAGES)
    return public.replace(" --plain-http", "")


def run_block(
    name: str,
    *,
    registry: str,
    env: dict[str, str],
    cwd: Path = ROOT,
    pages: str = LOCAL_PAGES,
    timeout_s: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a tested block with bash -eu (in the checkout unless `cwd`), against the test's registry
    (`host:port`) instead of 127.0.0.1:5000 and its chart repository (`pages`) instead of 127.0.0.1:8879."""
    port = LOCAL_REGISTRY.rsplit(":", 1)[1]
    text = (
        block_named(name)
        .text.replace(LOCAL_REGISTRY, registry)
        .replace(f"REGISTRY_PORT={port}", f"REGISTRY_PORT={registry.rsplit(':', 1)[1]}")
        .replace(LOCAL_PAGES, pages)
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", text],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )

"""Rendered examples: `examples/rendered/<preset>.yaml`, the manifests each preset produces, committed so a
reviewer sees what a chart change does to real output. `--check` fails (with a diff) when they are stale.

    python -m chart_harness.examples           # regenerate (make examples)
    python -m chart_harness.examples --check   # compare only
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from .matrix import preset_bases
from .render import ROOT, render_chart
from .versions import kube_minors, kube_version

EXAMPLES_DIR = ROOT / "examples" / "rendered"
# A release name that reads well in the examples: fullname = "vllm-inference".
RELEASE, NAMESPACE = "vllm-inference", "inference"


def header(preset: Path, minor: str) -> str:
    rel = preset.relative_to(ROOT)
    return (
        f"# Rendered from {rel} by `make examples`:\n"
        f"#   helm template {RELEASE} charts/vllm-inference -n {NAMESPACE} -f {rel}"
        f" --kube-version {kube_version(minor)}\n"
        "# Do not edit: regenerate and review the diff.\n"
    )


def expected() -> dict[Path, str]:
    """Example file -> the text it must hold, for every preset."""
    minor = kube_minors()[-1]
    out = {}
    for base in preset_bases():
        rendered = render_chart(
            values_files=[base.path], kube_version=kube_version(minor), release=RELEASE, namespace=NAMESPACE
        )
        out[EXAMPLES_DIR / base.path.name] = header(base.path, minor) + rendered.manifest
    return out


def differences(want: dict[Path, str]) -> list[str]:
    """Unified diffs (and stale/missing files) between the committed examples and `want`."""
    problems = []
    present = set(EXAMPLES_DIR.glob("*.yaml")) if EXAMPLES_DIR.is_dir() else set()
    for path in sorted(present - set(want)):
        problems.append(f"{path.relative_to(ROOT)}: no preset renders it any more (delete it)")
    for path, text in sorted(want.items()):
        have = path.read_text() if path.is_file() else ""
        if have != text:
            rel = str(path.relative_to(ROOT))
            diff = difflib.unified_diff(
                have.splitlines(), text.splitlines(), rel, "rendered now", lineterm="", n=1
            )
            problems.append("\n".join(list(diff)[:60]))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail on a difference instead of writing")
    args = parser.parse_args(argv)
    want = expected()
    if args.check:
        problems = differences(want)
        print("\n".join(problems))
        return 1 if problems else 0
    EXAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    for stale in set(EXAMPLES_DIR.glob("*.yaml")) - set(want):
        stale.unlink()
    for path, text in want.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

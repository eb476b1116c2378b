"""The chart's README.md, from README.md.gotmpl: a helm-docs-style template, filled in here.

The template uses helm-docs' directive syntax, `{{ template "chart.valuesTable" . }}`, for the directives
below (helm-docs' names where helm-docs has one), so the packaged chart documents its own values. An unknown
directive is an error, not an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from chart_harness.values_docs import rows, table
from vllm_model.catalog import load_gpus
from vllm_model.memory import scheduler_defaults

DIRECTIVE = re.compile(r'\{\{-?\s*template\s+"(?P<name>[^"]+)"\s+\.\s*-?\}\}')


def gpu_table() -> str:
    head = [
        "| `gpu.type` | GPU | memory (MiB, as torch reports it) | compute capability | bfloat16 "
        "| FP8 tensor cores | vLLM's default `--max-num-seqs` |",
        "|---|---|---|---|---|---|---|",
    ]
    body = [
        f"| `{key}` | {g.name} | {g.memory_mib} | {g.compute_capability} | {'yes' if g.bf16 else 'no'} "
        f"| {'yes' if g.fp8 else 'no'} | {scheduler_defaults(g)[0]} |"
        for key, g in load_gpus().items()
    ]
    return "\n".join(head + body)


def render(chart_dir: Path, schema: dict[str, Any]) -> str:
    """README.md text; `schema` (the generated values.schema.json) gives the table its types and enums."""
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    directives: dict[str, Callable[[], str]] = {
        "chart.header": lambda: f"# {chart['name']}",
        "chart.name": lambda: str(chart["name"]),
        "chart.version": lambda: str(chart["version"]),
        "chart.appVersion": lambda: str(chart["appVersion"]),
        "chart.kubeVersion": lambda: str(chart["kubeVersion"]),
        "chart.description": lambda: str(chart["description"]),
        "chart.valuesTable": lambda: table(rows(chart_dir / "values.yaml", schema)).rstrip("\n"),
        "vllm-inference.gpuTable": gpu_table,
    }

    def fill(m: re.Match[str]) -> str:
        if m["name"] not in directives:
            raise ValueError(
                f"README.md.gotmpl: unknown directive {m['name']!r}; known: {sorted(directives)}"
            )
        return directives[m["name"]]()

    return DIRECTIVE.sub(fill, (chart_dir / "README.md.gotmpl").read_text()).rstrip("\n") + "\n"

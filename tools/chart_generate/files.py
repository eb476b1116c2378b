"""The chart's generated files and the text each must hold."""

from __future__ import annotations

import json
from pathlib import Path

from chart_generate import readme, schema, sizing

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "vllm-inference"


def expected(chart_dir: Path = CHART_DIR) -> dict[Path, str]:
    """Generated file -> the text it must hold."""
    written = json.loads((chart_dir / "values.schema.json").read_text())
    new_schema = schema.generated(written, schema.removed_keys(chart_dir))
    table = sizing.table(schema.tensor_parallel_sizes(new_schema))
    return {
        chart_dir / "values.schema.json": schema.render(new_schema),
        chart_dir / "files" / "sizing.yaml": sizing.render(table),
        chart_dir / "README.md": readme.render(chart_dir, new_schema),
    }


def stale(want: dict[Path, str]) -> list[Path]:
    return [path for path, text in want.items() if not path.is_file() or path.read_text() != text]

"""The chart whose defaults a values file is read over: a chart directory or a packaged chart (`.tgz`).

`helm install -f FILE` merges FILE over the chart's own values.yaml; the planner does the same with the chart
it is pointed at (`--chart PATH`, or the VLLM_PLAN_CHART environment variable). A packaged chart is read
with tarfile, as `helm package` writes it: one top-level directory holding Chart.yaml and values.yaml
(subcharts under charts/ keep their own values and are not read).
"""

from __future__ import annotations

import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from vllm_plan.chart_values import Values
from vllm_plan.errors import PlanInputError
from vllm_plan.yaml_input import load_yaml_mapping, parse_yaml_mapping

CHART_ENV = "VLLM_PLAN_CHART"


@dataclass(frozen=True)
class ChartRef:
    """A chart path and how the user named it (`--chart` or the environment variable), for errors."""

    path: Path
    named_by: str


def chart_ref(flag_value: Path | None, env: Mapping[str, str]) -> ChartRef | None:
    """The chart to read defaults from: `--chart` wins over VLLM_PLAN_CHART; None when neither is set."""
    if flag_value is not None:
        return ChartRef(flag_value, "--chart")
    if env.get(CHART_ENV):
        return ChartRef(Path(env[CHART_ENV]), CHART_ENV)
    return None


def chart_defaults(ref: ChartRef) -> Values:
    """The chart's own values.yaml (empty when the chart has none, as Helm allows)."""
    path, where = ref.path, f"{ref.named_by} {ref.path}"
    if path.is_dir():
        if not (path / "Chart.yaml").is_file():
            raise PlanInputError(f"{where}: not a chart directory (no Chart.yaml)")
        values = path / "values.yaml"
        return load_yaml_mapping(values, ref.named_by) if values.is_file() else {}
    if path.is_file():
        return _packaged_defaults(path, where)
    raise PlanInputError(f"{where}: no such chart directory or packaged chart")


def _packaged_defaults(path: Path, where: str) -> Values:
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {_member_path(m.name): m for m in archive.getmembers() if m.isfile()}
            charts = sorted(p.parent for p in members if p.name == "Chart.yaml" and len(p.parts) == 2)
            if len(charts) != 1:
                found = ", ".join(str(c) for c in charts) or "none"
                raise PlanInputError(
                    f"{where}: a packaged chart holds one top-level chart directory with a Chart.yaml "
                    f"(found: {found})"
                )
            member = members.get(charts[0] / "values.yaml")
            if member is None:
                return {}
            handle = archive.extractfile(member)
            if handle is None:  # not reachable for a regular file; tarfile's signature allows it
                raise PlanInputError(f"{where}: cannot read {member.name}")
            text = handle.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanInputError(f"{where}: values.yaml is not UTF-8 text: {exc}") from exc
    except (tarfile.TarError, OSError) as exc:
        raise PlanInputError(f"{where}: not a chart directory or a packaged chart (.tgz): {exc}") from exc
    return parse_yaml_mapping(text, f"{where}: {charts[0]}/values.yaml")


def _member_path(name: str) -> PurePosixPath:
    """An archive member's path without a leading `./` (some tar writers add one)."""
    return PurePosixPath(*[part for part in PurePosixPath(name).parts if part != "."])

"""Reading the planner's YAML inputs (values files, traffic profiles, price tables) with errors that name
where the file came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vllm_plan.errors import PlanInputError


def parse_yaml_mapping(text: str, where: str) -> dict[str, Any]:
    """Parse YAML text that must hold a mapping; `where` (flag and file) leads any error."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanInputError(f"{where}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PlanInputError(f"{where}: expected a mapping at the top level")
    return data


def load_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; `what` (the flag that named the file) leads any error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanInputError(f"{what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PlanInputError(f"{what} {path}: not UTF-8 text: {exc}") from exc
    return parse_yaml_mapping(text, f"{what} {path}")

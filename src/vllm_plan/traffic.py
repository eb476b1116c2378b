"""The traffic profile: 24 hourly request rates, mean token counts and the latency SLO, from a YAML file."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vllm_plan.errors import PlanInputError
from vllm_plan.yaml_input import load_yaml_mapping

HOURS_PER_DAY = 24


PERCENTILES = (50, 90, 99)  # what `vllm-sim replay` reports


@dataclass(frozen=True)
class Slo:
    time_to_first_token_s: float
    inter_token_latency_s: float
    percentile: int = 99  # the share of requests (%) that must meet both


@dataclass(frozen=True)
class TrafficProfile:
    name: str
    requests_per_second: tuple[float, ...]
    mean_input_tokens: int
    mean_output_tokens: int
    slo: Slo
    target_utilization: float
    min_replicas: int


def example_traffic_path() -> Path:
    return Path(str(resources.files("vllm_plan") / "data" / "traffic-example.yaml"))


def _number(
    data: dict[str, Any], key: str, where: str, *, low: float = 0.0, high: float | None = None
) -> float:
    value = data.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value <= low
        or (high is not None and value > high)
    ):
        bound = f"> {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise PlanInputError(f"{where}: `{key}` must be a number {bound}, got {value!r}")
    return float(value)


def _integer(data: dict[str, Any], key: str, where: str, *, low: int) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise PlanInputError(f"{where}: `{key}` must be an integer >= {low}, got {value!r}")
    return value


def _percentile(slo: dict[str, Any], where: str) -> int:
    value = slo.get("percentile", Slo.percentile)
    if isinstance(value, bool) or value not in PERCENTILES:
        choices = ", ".join(map(str, PERCENTILES))
        raise PlanInputError(f"{where}: `percentile` must be one of {choices}, got {value!r}")
    return int(value)


def parse_traffic(data: dict[str, Any], where: str) -> TrafficProfile:
    rates = data.get("requests_per_second")
    if not isinstance(rates, list) or len(rates) != HOURS_PER_DAY:
        expected = f"a list of {HOURS_PER_DAY} hourly values"
        raise PlanInputError(f"{where}: `requests_per_second` must be {expected}, got {rates!r}")
    for hour, rate in enumerate(rates):
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            key = f"requests_per_second[{hour}]"
            raise PlanInputError(f"{where}: `{key}` must be a number >= 0, got {rate!r}")
    slo = data.get("slo")
    if not isinstance(slo, dict):
        raise PlanInputError(f"{where}: `slo` must be a mapping")
    return TrafficProfile(
        name=str(data.get("name", Path(where).stem)),
        requests_per_second=tuple(float(r) for r in rates),
        mean_input_tokens=_integer(data, "mean_input_tokens", where, low=1),
        mean_output_tokens=_integer(data, "mean_output_tokens", where, low=1),
        slo=Slo(
            time_to_first_token_s=_number(slo, "time_to_first_token_seconds", f"{where}: slo"),
            inter_token_latency_s=_number(slo, "inter_token_latency_seconds", f"{where}: slo"),
            percentile=_percentile(slo, f"{where}: slo"),
        ),
        target_utilization=_number(data, "target_utilization", where, high=1.0),
        min_replicas=_integer(data, "min_replicas", where, low=0),
    )


def load_traffic(path: Path) -> TrafficProfile:
    return parse_traffic(load_yaml_mapping(path, "--traffic"), str(path))

"""The price table: GPU x cloud -> on-demand and spot USD per GPU-hour, loaded from an editable YAML file."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vllm_plan.errors import PlanInputError
from vllm_plan.yaml_input import load_yaml_mapping

CLOUDS = ("gcp", "aws", "azure")


@dataclass(frozen=True)
class Price:
    gpu: str
    cloud: str
    instance: str
    region: str
    on_demand: float
    spot: float | None
    source: str
    date: str


def default_prices_path() -> Path:
    return Path(str(resources.files("vllm_plan") / "data" / "prices.yaml"))


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise PlanInputError(f"{key}: expected a positive number, got {value!r}")
    return float(value)


def _positive_or_none(value: Any, key: str) -> float | None:
    """A positive number, or None where the table leaves it null (e.g. a GPU sold without spot)."""
    return None if value is None else _positive(value, key)


def lookup(table: dict[str, Any], gpu: str, cloud: str, where: str = "prices") -> Price:
    """The price of `gpu` on `cloud`; a missing GPU, cloud or offering is an error naming the key."""
    gpus = table.get("gpus")
    if not isinstance(gpus, dict):
        raise PlanInputError(f"{where}: missing the `gpus` mapping")
    if gpu not in gpus:
        raise PlanInputError(f"{where}: no price for GPU {gpu!r} (known: {', '.join(sorted(gpus))})")
    clouds = gpus[gpu] or {}
    if cloud not in clouds:
        raise PlanInputError(f"{where}: gpus.{gpu} has no entry for cloud {cloud!r}")
    entry = clouds[cloud]
    key = f"gpus.{gpu}.{cloud}"
    if entry is None:
        raise PlanInputError(f"{where}: {key} is null: {cloud} does not offer {gpu}")
    if not isinstance(entry, dict):
        raise PlanInputError(f"{where}: {key}: expected a mapping")
    for field in ("source", "date"):
        if not entry.get(field):
            raise PlanInputError(f"{where}: {key}.{field} is required (where and when the price was taken)")
    return Price(
        gpu=gpu,
        cloud=cloud,
        instance=str(entry.get("instance", "")),
        region=str(entry.get("region", "")),
        on_demand=_positive(entry.get("on_demand"), f"{key}.on_demand"),
        spot=_positive_or_none(entry.get("spot"), f"{key}.spot"),
        source=str(entry["source"]),
        date=str(entry["date"]),
    )


def load_price(path: Path, gpu: str, cloud: str) -> Price:
    if cloud not in CLOUDS:
        raise PlanInputError(f"--cloud: {cloud!r} is not one of {', '.join(CLOUDS)}")
    return lookup(load_yaml_mapping(path, "--prices"), gpu, cloud, where=str(path))

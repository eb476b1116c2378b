"""The render matrix: every values base (preset or ci file) crossed pairwise with the chart's toggles.

A base is a values file as users pass it: `values/<preset>.yaml` or
`charts/vllm-inference/ci/<x>-values.yaml`, found by glob so new ones join the matrix by existing.
A toggle is a factor with named levels; each level is a values overlay applied on top of the base.
Overlays always build a valid combination (a TP level sets the GPU count with it; switching spot off keeps
an on-demand pool). Combinations that are not valid inputs are ruled out by `allowed()` from the base's own
values, not by swallowing helm failures: lowering a preset's tensor-parallel size below what it was
sized for, a TP that does not divide the model's attention heads, or removing the only pool of a
spot-only preset. Every base is also rendered as is, with every optional feature on, and with every
optional feature off.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .pairwise import pairwise_rows
from .render import CHART_DIR, ROOT

PRESETS_DIR = ROOT / "values"
CI_DIR = CHART_DIR / "ci"

Values = dict[str, Any]


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Values:
    """Helm's merge of values files: maps merge recursively, anything else in `over` replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dig(values: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


@dataclass(frozen=True)
class Base:
    """One values file of the matrix; `kind` is "preset" or "ci"."""

    kind: str
    path: Path

    @property
    def name(self) -> str:
        stem = self.path.name.removesuffix(".yaml").removesuffix("-values")
        return f"{self.kind}:{stem}"

    @property
    def values(self) -> Values:
        """The chart defaults with this file merged over them (what the templates will see)."""
        return _effective(self.path)


@cache
def _load(path: Path) -> Values:
    return yaml.safe_load(path.read_text()) or {}


@cache
def _effective(path: Path) -> Values:
    return deep_merge(_load(CHART_DIR / "values.yaml"), _load(path))


def bases() -> list[Base]:
    presets = [Base("preset", p) for p in sorted(PRESETS_DIR.glob("*.yaml"))]
    ci = [Base("ci", p) for p in sorted(CI_DIR.glob("*-values.yaml"))]
    return presets + ci


def preset_bases() -> list[Base]:
    return [b for b in bases() if b.kind == "preset"]


_OFF_EXPOSURE: Values = {"ingress": {"enabled": False}, "httpRoute": {"enabled": False}}
_MONITORING_OFF: Values = {
    "monitoring": {
        "serviceMonitor": {"enabled": False, "podMonitor": False},
        "prometheusRule": {"enabled": False},
        "grafanaDashboard": {"enabled": False},
    }
}

# factor -> level name -> overlay. Level order matters: the pairwise generator prefers earlier levels.
TOGGLES: dict[str, dict[str, Values]] = {
    "autoscaling": {
        "off": {"autoscaling": {"enabled": False}},
        "keda": {"autoscaling": {"enabled": True}, "keda": {"enabled": True}},
        "hpa": {"autoscaling": {"enabled": True}, "keda": {"enabled": False}},
    },
    "spot": {
        "off": {"pools": {"spot": {"enabled": False}, "onDemand": {"enabled": True}}},
        "on": {"pools": {"spot": {"enabled": True}}},
    },
    "monitoring": {
        "off": _MONITORING_OFF,
        "servicemonitor": {
            "monitoring": {
                "serviceMonitor": {"enabled": True, "podMonitor": False},
                "prometheusRule": {"enabled": True},
                "grafanaDashboard": {"enabled": True},
            }
        },
        "podmonitor": {
            "monitoring": {
                "serviceMonitor": {"enabled": True, "podMonitor": True},
                "prometheusRule": {"enabled": True},
            }
        },
    },
    "tp": {str(tp): {"vllm": {"tensorParallelSize": tp}, "gpu": {"count": tp}} for tp in (1, 2, 4, 8)},
    "auth": {
        "off": {"auth": {"enabled": False}},
        "created": {"auth": {"enabled": True, "existingSecret": "", "apiKey": "matrix-api-key"}},
        "existing": {"auth": {"enabled": True, "existingSecret": "vllm-api-key", "apiKey": ""}},
    },
    "prefixCaching": {
        "default": {"vllm": {"prefixCaching": None}},
        "on": {"vllm": {"prefixCaching": True}},
        "off": {"vllm": {"prefixCaching": False}},
    },
    "networkPolicy": {
        "off": {"networkPolicy": {"enabled": False}},
        "on": {"networkPolicy": {"enabled": True, "allowedPods": [{"app.kubernetes.io/name": "gateway"}]}},
    },
    "exposure": {
        "none": _OFF_EXPOSURE,
        "ingress": {
            "httpRoute": {"enabled": False},
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "hosts": [{"host": "llm.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            },
        },
        "gateway": {
            "ingress": {"enabled": False},
            "httpRoute": {
                "enabled": True,
                "parentRefs": [{"name": "inference-gateway", "namespace": "gateway-system"}],
                "hostnames": ["llm.example.com"],
            },
        },
    },
    "modelCache": {
        "emptyDir": {"modelCache": {"mode": "emptyDir"}},
        "pvc": {"modelCache": {"mode": "pvc", "pvc": {"accessMode": "ReadWriteMany"}}},
        "existingClaim": {
            "modelCache": {
                "mode": "existingClaim",
                "existingClaim": {"name": "models", "accessMode": "ReadWriteMany"},
            }
        },
    },
}

ALL_ON = {
    "autoscaling": "keda",
    "spot": "on",
    "monitoring": "servicemonitor",
    "auth": "created",
    "prefixCaching": "on",
    "networkPolicy": "on",
    "exposure": "gateway",
}
ALL_OFF = {
    "autoscaling": "off",
    "monitoring": "off",
    "auth": "off",
    "prefixCaching": "default",
    "networkPolicy": "off",
    "exposure": "none",
}


@cache
def attention_heads(model: str) -> int | None:
    """The model's attention heads as the chart's sizing table knows them (TP must divide them)."""
    sizing = CHART_DIR / "files" / "sizing.yaml"
    known = (_load(sizing).get("models") or {}) if sizing.is_file() else {}
    return (known.get(model) or {}).get("attentionHeads")


def allowed(base: Base, row: Mapping[str, str]) -> bool:
    """Whether applying the toggle levels in `row` to `base` is a valid input (see the module doc)."""
    v = base.values
    if "tp" in row:
        tp, heads = int(row["tp"]), attention_heads(dig(v, "model.name", ""))
        if tp < int(dig(v, "vllm.tensorParallelSize", 1)) or (heads and heads % tp):
            return False
    return not ("spot" in row and row["spot"] == "off" and not dig(v, "pools.onDemand.enabled", False))


@dataclass(frozen=True)
class Scenario:
    base: Base
    toggles: tuple[tuple[str, str], ...] = ()
    label: str = ""
    overlay: Values = field(default_factory=dict, compare=False, hash=False)

    @property
    def id(self) -> str:
        detail = self.label or ",".join(f"{k}={v}" for k, v in self.toggles)
        return f"{self.base.name}[{detail or 'as-is'}]"

    @property
    def values_files(self) -> tuple[Path, ...]:
        return (self.base.path,)

    @property
    def values(self) -> Values:
        """What the templates see: chart defaults, then the base file, then the overlay."""
        return deep_merge(self.base.values, self.overlay)

    def level(self, factor: str) -> str | None:
        return dict(self.toggles).get(factor)


def _scenario(base: Base, levels: Mapping[str, str], label: str = "") -> Scenario:
    overlay: Values = {}
    for factor in TOGGLES:
        if factor in levels:
            overlay = deep_merge(overlay, TOGGLES[factor][levels[factor]])
    toggles = tuple((f, levels[f]) for f in TOGGLES if f in levels)
    return Scenario(base=base, toggles=toggles, label=label, overlay=overlay)


def scenarios() -> list[Scenario]:
    """Every base as is, all-on, all-off, plus a pairwise cover of (base x toggles), in a stable order."""
    all_bases = bases()
    if not all_bases:
        return []
    by_name = {b.name: b for b in all_bases}
    out: list[Scenario] = []
    for b in all_bases:
        out.append(Scenario(base=b))
        out.append(_scenario(b, {k: lv for k, lv in ALL_ON.items() if allowed(b, {k: lv})}, "all-on"))
        out.append(_scenario(b, {k: lv for k, lv in ALL_OFF.items() if allowed(b, {k: lv})}, "all-off"))
    factors: dict[str, list[str]] = {"base": list(by_name), **{f: list(lv) for f, lv in TOGGLES.items()}}

    def ok(row: Mapping[str, str]) -> bool:
        return "base" not in row or allowed(by_name[row["base"]], row)

    for row in pairwise_rows(factors, ok):
        levels = {k: v for k, v in row.items() if k != "base"}
        out.append(_scenario(by_name[row["base"]], levels))
    return out

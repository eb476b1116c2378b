"""The render matrix: every values base (preset or ci file) crossed pairwise with the chart's toggles.

A base is a values file as users pass it: `values/<preset>.yaml` or
`charts/vllm-inference/ci/<x>-values.yaml`, found by glob so new ones join the matrix by existing.
A toggle is a factor with named levels; each level is a values overlay applied on top of the base.
Overlays build valid combinations (a TP level sets the GPU count with it; switching spot off keeps an
on-demand pool; an autoscaler drops a base's fixed replicas). Combinations that are not valid inputs are ruled
out by `allowed()` on the merged values, never by swallowing helm failures: lowering a preset's
tensor-parallel size below what it was sized for, a TP that does not divide the model's attention heads, a
ReadWriteOnce model cache with more than one pod, an HPA (no KEDA) asked to scale a pool to zero, a spot pool
with no capacity provider (the chart assumes no cloud), pod-name matching with HPA external metrics.

Cost versus coverage: every base renders as is and with every optional feature on at every minor; the
pairwise rows treat the Kubernetes minor as one more factor, so every (base, minor), (toggle level, minor)
and (base, toggle level) pair renders without multiplying the whole cover by the number of minors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import yaml

from vllm_model.catalog import load_models
from vllm_plan.chart_values import Values, deep_merge, dig

from .pairwise import pairwise_rows
from .render import CHART_DIR, ROOT
from .versions import kube_minors

PRESETS_DIR = ROOT / "values"
CI_DIR = CHART_DIR / "ci"


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


_NO_FIXED_REPLICAS: Values = {"onDemand": {"replicas": None}, "spot": {"replicas": None}}
_OFF_EXPOSURE: Values = {"ingress": {"enabled": False}, "httpRoute": {"enabled": False}}
_MONITORING_OFF: Values = {
    "monitoring": {
        "monitor": {"kind": "none"},
        "prometheusRule": {"enabled": False},
        "grafanaDashboard": {"enabled": False},
    }
}

# factor -> level name -> overlay. Level order matters: the pairwise generator prefers earlier levels.
TOGGLES: dict[str, dict[str, Values]] = {
    "autoscaling": {
        "off": {"autoscaling": {"mode": "none"}},
        # an autoscaler owns the replica count: a base's fixed replicas are dropped (the chart refuses both)
        "keda": {"autoscaling": {"mode": "keda"}, "pools": _NO_FIXED_REPLICAS},
        "hpa": {"autoscaling": {"mode": "hpa"}, "pools": _NO_FIXED_REPLICAS},
    },
    "spot": {
        "off": {"pools": {"spot": {"enabled": False}, "onDemand": {"enabled": True}}},
        "on": {"pools": {"spot": {"enabled": True}}},
        # no serving pool: only a batch release (batch.enabled) renders so
        "none": {"pools": {"spot": {"enabled": False}, "onDemand": {"enabled": False}}},
    },
    "monitoring": {
        "off": _MONITORING_OFF,
        "servicemonitor": {
            "monitoring": {
                "monitor": {"kind": "serviceMonitor"},
                "prometheusRule": {"enabled": True},
                "grafanaDashboard": {"enabled": True},
            }
        },
        "podmonitor": {
            "monitoring": {
                "monitor": {"kind": "podMonitor"},
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
                "hosts": [{"host": "llm.example.com"}],
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
    "pdb": {
        "on": {"pools": {"onDemand": {"pdb": {"enabled": True}}, "spot": {"pdb": {"enabled": True}}}},
        "off": {"pools": {"onDemand": {"pdb": {"enabled": False}}, "spot": {"pdb": {"enabled": False}}}},
    },
    "serviceAccount": {
        "created": {"serviceAccount": {"create": True}},
        "existing": {"serviceAccount": {"create": False, "name": "inference-runner"}},
    },
    "hfToken": {
        "none": {"huggingface": {"existingSecret": "", "token": ""}},
        "created": {"huggingface": {"existingSecret": "", "token": "hf_matrix_token"}},
        "existing": {"huggingface": {"existingSecret": "hf-token", "token": ""}},
    },
    "matchBy": {
        "podLabels": {"autoscaling": {"matchBy": "podLabels"}},
        "podName": {"autoscaling": {"matchBy": "podName"}},
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


def attention_heads(model: str) -> int | None:
    """The model's attention heads from the catalogue, when it knows the model (TP must divide them)."""
    spec = load_models().get(model)
    return spec.num_attention_heads if spec else None


def overlay_of(levels: Mapping[str, str]) -> Values:
    """The values overlay of some toggle levels (factors that are not toggles are ignored)."""
    overlay: Values = {}
    for factor in TOGGLES:
        if factor in levels:
            overlay = deep_merge(overlay, TOGGLES[factor][levels[factor]])
    return overlay


def _own_nodes(v: Values, pool: str) -> bool:
    return any(dig(v, f"pools.{pool}.{key}") for key in ("capacityLabels", "nodeSelector", "affinity"))


def _single_pod_claim(v: Values) -> bool:
    mode = dig(v, "modelCache.mode")
    access = dig(v, f"modelCache.{mode}.accessMode") if mode in ("pvc", "existingClaim") else None
    return access == "ReadWriteOnce"


def allowed(base: Base, row: Mapping[str, str]) -> bool:
    """Whether applying the toggle levels in `row` to `base` is a valid input. The rules are the chart's
    documented constraints on values (see the module doc), checked on the merged values."""
    return _allowed(base, tuple(sorted((k, v) for k, v in row.items() if k in TOGGLES)))


@cache
def _allowed(base: Base, levels: tuple[tuple[str, str], ...]) -> bool:
    row = dict(levels)
    v = deep_merge(base.values, overlay_of(row))
    if "tp" in row:
        tp, heads = int(row["tp"]), attention_heads(dig(v, "model.name", ""))
        if tp < int(dig(base.values, "vllm.tensorParallelSize", 1)) or (heads and heads % tp):
            return False
    pools = [p for p in ("onDemand", "spot") if dig(v, f"pools.{p}.enabled")]
    mode = dig(v, "autoscaling.mode", "none")
    autoscaling, keda = mode != "none", mode == "keda"
    if dig(v, "batch.enabled"):
        return _batch_allowed(v, pools)
    if not pools:
        return False
    if "spot" in pools and dig(v, "capacityType.provider") == "none" and not _own_nodes(v, "spot"):
        return False  # the chart assumes no cloud: a spot pool needs a provider or its own node labels
    if _single_pod_claim(v) and (len(pools) > 1 or autoscaling):
        return False  # a ReadWriteOnce claim can serve one pod only
    if (
        mode == "hpa"
        and dig(v, "autoscaling.matchBy") == "podName"
        and dig(v, "hpa.metricSource") == "External"
    ):
        return False  # external metric selectors match labels exactly: no pod-name patterns
    # an HPA cannot scale to zero (HPAScaleToZero is alpha): minReplicas 0 needs KEDA
    return not (autoscaling and not keda and any(dig(v, f"pools.{p}.minReplicas", 1) == 0 for p in pools))


def _batch_allowed(v: Values, pools: list[str]) -> bool:
    """A batch release serves nothing: no pool, autoscaler, route or scrape of a server (the chart refuses
    them, templates/_validate_batch.tpl), and its pods are on spot nodes only with a provider or labels."""
    serving = (
        pools
        or dig(v, "autoscaling.mode", "none") != "none"
        or dig(v, "ingress.enabled")
        or dig(v, "httpRoute.enabled")
        or dig(v, "monitoring.monitor.kind", "none") != "none"
        or dig(v, "monitoring.prometheusRule.enabled")
    )
    pool = dig(v, "batch.pool", "spot")
    unplaced = pool == "spot" and dig(v, "capacityType.provider") == "none" and not _own_nodes(v, pool)
    return not (serving or unplaced)


@dataclass(frozen=True)
class Scenario:
    """A base with toggle levels applied, and the Kubernetes minors it is rendered for."""

    base: Base
    minors: tuple[str, ...]
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

    @cached_property
    def values(self) -> Values:
        """What the templates see: chart defaults, then the base file, then the overlay."""
        return deep_merge(self.base.values, self.overlay)

    def level(self, factor: str) -> str | None:
        return dict(self.toggles).get(factor)


def _scenario(base: Base, minors: tuple[str, ...], levels: Mapping[str, str], label: str = "") -> Scenario:
    overlay = overlay_of(levels)
    toggles = tuple((f, levels[f]) for f in TOGGLES if f in levels)
    return Scenario(base=base, minors=minors, toggles=toggles, label=label, overlay=overlay)


def scenarios() -> list[Scenario]:
    """Every base as is and all-on at every minor, plus a pairwise cover of (base x minor x toggles)."""
    all_bases, minors = bases(), tuple(kube_minors())
    by_name = {b.name: b for b in all_bases}
    out: list[Scenario] = []
    for b in all_bases:
        out.append(Scenario(base=b, minors=minors))
        on: dict[str, str] = {}
        for factor, level in ALL_ON.items():
            on = {**on, factor: level} if allowed(b, {**on, factor: level}) else on
        out.append(_scenario(b, minors, on, "all-on"))
    if not all_bases:
        return out
    factors: dict[str, list[str]] = {
        "base": list(by_name),
        "minor": list(minors),
        **{f: list(lv) for f, lv in TOGGLES.items()},
    }

    def ok(row: Mapping[str, str]) -> bool:
        return "base" not in row or allowed(by_name[row["base"]], row)

    for row in pairwise_rows(factors, ok):
        levels = {k: v for k, v in row.items() if k not in ("base", "minor")}
        out.append(_scenario(by_name[row["base"]], (row["minor"],), levels))
    return out

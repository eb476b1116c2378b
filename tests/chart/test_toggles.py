"""Every toggle renders its objects when on and none of them when off, over the whole render set.

The expected count comes from the effective values of each case (chart defaults, then the preset or ci file,
then the matrix overlay), so both branches of every toggle are checked wherever the matrix exercises them;
each test also asserts it saw the toggle both on and off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chart_harness.render import Rendered
from chart_harness.renders import rendered_cases, stop_at_first_failure
from vllm_plan.chart_values import dig

Values = dict[str, Any]


def _pools(v: Values) -> int:
    return sum(bool(dig(v, f"pools.{p}.enabled")) for p in ("onDemand", "spot"))


def _autoscaled(v: Values, mode: str) -> int:
    return _pools(v) if dig(v, "autoscaling.mode") == mode else 0


def _monitor(kind: str) -> Callable[[Values], int]:
    return lambda v: int(dig(v, "monitoring.monitor.kind") == kind)


def _named(kind: str, suffix: str) -> Callable[[Rendered], int]:
    return lambda r: sum(o["metadata"]["name"].endswith(suffix) for o in r.of_kind(kind))


def _kind(kind: str) -> Callable[[Rendered], int]:
    return lambda r: len(r.of_kind(kind))


def _dashboards(r: Rendered) -> int:
    return sum("grafana_dashboard" in (o["metadata"].get("labels") or {}) for o in r.of_kind("ConfigMap"))


@dataclass(frozen=True)
class Toggle:
    name: str
    count: Callable[[Rendered], int]
    expected: Callable[[Values], int]


TOGGLES = [
    Toggle("keda-scaledobject-per-pool", _kind("ScaledObject"), lambda v: _autoscaled(v, "keda")),
    Toggle("hpa-per-pool-in-hpa-mode", _kind("HorizontalPodAutoscaler"), lambda v: _autoscaled(v, "hpa")),
    Toggle(
        "keda-trigger-authentication",
        _kind("TriggerAuthentication"),
        lambda v: int(_autoscaled(v, "keda") > 0 and bool(dig(v, "keda.authentication.enabled"))),
    ),
    Toggle("servicemonitor", _kind("ServiceMonitor"), _monitor("serviceMonitor")),
    Toggle("podmonitor", _kind("PodMonitor"), _monitor("podMonitor")),
    Toggle(
        "prometheusrule",
        _kind("PrometheusRule"),
        lambda v: int(bool(dig(v, "monitoring.prometheusRule.enabled"))),
    ),
    Toggle(
        "grafana-dashboard", _dashboards, lambda v: int(bool(dig(v, "monitoring.grafanaDashboard.enabled")))
    ),
    Toggle("networkpolicy", _kind("NetworkPolicy"), lambda v: int(bool(dig(v, "networkPolicy.enabled")))),
    Toggle("ingress", _kind("Ingress"), lambda v: int(bool(dig(v, "ingress.enabled")))),
    Toggle("httproute", _kind("HTTPRoute"), lambda v: int(bool(dig(v, "httpRoute.enabled")))),
    Toggle(
        "spot-pool-deployment",
        _named("Deployment", "-spot"),
        lambda v: int(bool(dig(v, "pools.spot.enabled"))),
    ),
    Toggle(
        "on-demand-pool-deployment",
        _named("Deployment", "-on-demand"),
        lambda v: int(bool(dig(v, "pools.onDemand.enabled"))),
    ),
    Toggle(
        "pdb-per-pool",
        _kind("PodDisruptionBudget"),
        lambda v: sum(
            bool(dig(v, f"pools.{p}.enabled")) and bool(dig(v, f"pools.{p}.pdb.enabled"))
            for p in ("onDemand", "spot")
        ),
    ),
    Toggle(
        "model-cache-pvc", _kind("PersistentVolumeClaim"), lambda v: int(dig(v, "modelCache.mode") == "pvc")
    ),
    Toggle(
        "api-key-secret",
        _named("Secret", "-api-key"),
        lambda v: int(bool(dig(v, "auth.enabled")) and not dig(v, "auth.existingSecret")),
    ),
    Toggle(
        "hf-token-secret",
        _named("Secret", "-hf-token"),
        lambda v: int(bool(dig(v, "huggingface.token")) and not dig(v, "huggingface.existingSecret")),
    ),
    Toggle("serviceaccount", _kind("ServiceAccount"), lambda v: int(bool(dig(v, "serviceAccount.create")))),
    Toggle("service", _kind("Service"), lambda v: int(not dig(v, "batch.enabled"))),
    Toggle(
        "batch-job",
        _kind("Job"),
        lambda v: int(bool(dig(v, "batch.enabled")) and not dig(v, "batch.schedule")),
    ),
    Toggle(
        "batch-cronjob",
        _kind("CronJob"),
        lambda v: int(bool(dig(v, "batch.enabled") and dig(v, "batch.schedule"))),
    ),
    Toggle(
        "batch-wrapper-configmap", _named("ConfigMap", "-batch"), lambda v: int(bool(dig(v, "batch.enabled")))
    ),
]


@pytest.mark.parametrize("toggle", TOGGLES, ids=[t.name for t in TOGGLES])
def test_toggle_renders_its_objects_only_when_on(toggle: Toggle) -> None:
    wrong, states = [], set()
    for case, rendered in rendered_cases():
        want, got = toggle.expected(case.scenario.values), toggle.count(rendered)
        states.add(want > 0)
        if want != got:
            wrong.append(f"{case.id}: {got} rendered, values ask for {want}")
            if stop_at_first_failure():
                break
    assert not wrong, f"{toggle.name}:\n" + "\n".join(wrong[:30])
    assert states == {True, False}, (
        f"the matrix never renders {toggle.name} {'off' if True in states else 'on'}"
    )

"""Every alert the chart renders, unit-tested with `promtool test rules` (Prometheus 3, from `make tools`):
for each one a case where it fires and a case where it stays silent, on series shaped as vLLM, kube-state-
metrics and KEDA 2.20 export them.

The rules file is the PrometheusRule's groups from a render (never a copy): a change to an expression, a
threshold or a `for` reaches promtool as it would reach Prometheus. Annotations are dropped from the file
promtool *tests* (it compares them verbatim) and checked instead by `promtool check rules` on the full groups.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart_harness.render import NAMESPACE, RELEASE, ROOT, render_chart

PROMTOOL = ROOT / ".tools" / "bin" / "promtool"
FULL = f"{RELEASE}-vllm-inference"
VALUES = {
    "capacityType": {"provider": "karpenter"},
    "pools": {"spot": {"enabled": True, "minReplicas": 0}},
    "autoscaling": {"mode": "keda", "maxReplicas": 4},
    "vllm": {"maxNumSeqs": 16},
    "monitoring": {"prometheusRule": {"enabled": True}},
}


def _rule_objects() -> tuple[dict[str, Any], dict[str, Any]]:
    r = render_chart(VALUES)
    return r.get("PrometheusRule", FULL), r.get("ScaledObject", f"{FULL}-on-demand")


RULE, ON_DEMAND_SO = _rule_objects()
GROUPS = RULE["spec"]["groups"]
ALERTS = sorted({rule["alert"] for group in GROUPS for rule in group["rules"]})
OD_MAX = ON_DEMAND_SO["spec"]["maxReplicaCount"]
OD_POD = f"{FULL}-on-demand-7c9d5b8f4-x2k7q"
SPOT_POD = f"{FULL}-spot-6b8f9c7d5-q4m2z"


def vllm(
    metric: str, values: str, pool: str = "on-demand", pod: str = OD_POD, **labels: str
) -> dict[str, str]:
    """A vLLM series as the chart's ServiceMonitor scrapes it (pod labels copied as app_kubernetes_io_*)."""
    base = {
        "namespace": NAMESPACE,
        "pod": pod,
        "app_kubernetes_io_name": "vllm-inference",
        "app_kubernetes_io_instance": RELEASE,
        "app_kubernetes_io_component": f"pool-{pool}",
        "model_name": "Qwen/Qwen2.5-0.5B-Instruct",
        **labels,
    }
    return {"series": _series(metric, base), "values": values}


def ksm(metric: str, values: str, **labels: str) -> dict[str, str]:
    """A kube-state-metrics series (its own namespace/deployment/pod labels, honoured by the scrape)."""
    return {
        "series": _series(metric, {"namespace": NAMESPACE, "job": "kube-state-metrics", **labels}),
        "values": values,
    }


def keda(values: str) -> dict[str, str]:
    """KEDA 2.20's per-trigger error counter (namespace, scaledObject, scaler, triggerIndex, metric, type)."""
    labels = {
        "namespace": NAMESPACE,
        "scaledObject": f"{FULL}-on-demand",
        "scaler": "prometheusScaler",
        "triggerIndex": "0",
        "metric": "s0-prometheus",
        "type": "scaledobject",
        "job": "keda-operator",
    }
    return {"series": _series("keda_scaler_detail_errors_total", labels), "values": values}


def _series(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def fires(at: str, **labels: str) -> dict[str, Any]:
    return {"eval_time": at, "exp_alerts": [{"exp_labels": labels}]}


def silent(at: str) -> dict[str, Any]:
    return {"eval_time": at, "exp_alerts": []}


OD = {"namespace": NAMESPACE, "pool": "on-demand"}
WARN, CRIT = {"severity": "warning"}, {"severity": "critical"}
BUCKETS = ("0.5", "1", "2", "5", "+Inf")


def ttft(counts: dict[str, str]) -> list[dict[str, str]]:
    return [vllm("vllm:time_to_first_token_seconds_bucket", counts[le], le=le) for le in BUCKETS]


# alert -> [(case, input series, evaluation)]
CASES: dict[str, list[tuple[str, list[dict[str, str]], dict[str, Any]]]] = {
    "VLLMKVCacheHigh": [
        ("fires-at-95-percent", [vllm("vllm:kv_cache_usage_perc", "0.95x15")], fires("10m", **WARN, **OD)),
        ("silent-at-50-percent", [vllm("vllm:kv_cache_usage_perc", "0.5x15")], silent("10m")),
    ],
    "VLLMQueueGrowing": [
        ("fires-while-growing", [vllm("vllm:num_requests_waiting", "0+2x20")], fires("15m", **WARN, **OD)),
        ("silent-when-long-but-flat", [vllm("vllm:num_requests_waiting", "30x20")], silent("15m")),
    ],
    "VLLMQueueStuckAtMaxReplicas": [
        (
            "fires-at-the-maximum",
            [
                vllm("vllm:num_requests_waiting", "30x20"),
                ksm("kube_deployment_spec_replicas", f"{OD_MAX}x20", deployment=f"{FULL}-on-demand"),
            ],
            fires("15m", **CRIT, **OD),
        ),
        (
            "silent-below-the-maximum",
            [
                vllm("vllm:num_requests_waiting", "30x20"),
                ksm("kube_deployment_spec_replicas", f"{OD_MAX - 1}x20", deployment=f"{FULL}-on-demand"),
            ],
            silent("15m"),
        ),
    ],
    "VLLMRunningAtMaxNumSeqs": [
        (
            "fires-at-max-num-seqs",
            [vllm("vllm:num_requests_running", "16x15")],
            fires("10m", severity="info", pod=OD_POD, **OD),
        ),
        ("silent-below-it", [vllm("vllm:num_requests_running", "8x15")], silent("10m")),
    ],
    "VLLMTimeToFirstTokenP95High": [
        (
            "fires-when-most-first-tokens-take-seconds",
            ttft({"0.5": "0x20", "1": "0x20", "2": "0x20", "5": "0+10x20", "+Inf": "0+10x20"}),
            fires("15m", **WARN, **OD),
        ),
        (
            "silent-when-they-take-half-a-second",
            ttft({le: "0+10x20" for le in BUCKETS}),
            silent("15m"),
        ),
    ],
    "VLLMRequestErrors": [
        (
            "fires-when-half-the-requests-abort",
            [
                vllm("vllm:request_success_total", "0+5x20", finished_reason="abort"),
                vllm("vllm:request_success_total", "0+5x20", finished_reason="stop"),
            ],
            fires("15m", **WARN, **OD),
        ),
        (
            "silent-when-they-all-finish",
            [
                vllm("vllm:request_success_total", "0x20", finished_reason="abort"),
                vllm("vllm:request_success_total", "0+5x20", finished_reason="stop"),
                vllm("vllm:request_success_total", "0+5x20", finished_reason="length"),
            ],
            silent("15m"),
        ),
    ],
    "VLLMPreemptions": [
        (
            "fires-at-one-a-second",
            [vllm("vllm:num_preemptions_total", "0+60x20")],
            fires("15m", **WARN, **OD),
        ),
        ("silent-at-one-a-minute", [vllm("vllm:num_preemptions_total", "0+1x20")], silent("15m")),
    ],
    "VLLMEngineStalled": [
        (
            "fires-when-running-requests-move-no-token",
            [
                vllm("vllm:num_requests_running", "4x20"),
                vllm("vllm:generation_tokens_total", "100x20"),
                vllm("vllm:prompt_tokens_total", "100x20"),
            ],
            fires("15m", **CRIT, pod=OD_POD, **OD),
        ),
        (
            "silent-while-tokens-flow",
            [
                vllm("vllm:num_requests_running", "4x20"),
                vllm("vllm:generation_tokens_total", "0+100x20"),
                vllm("vllm:prompt_tokens_total", "100x20"),
            ],
            silent("15m"),
        ),
        (
            "silent-for-an-embedding-model-that-only-reads-prompts",
            [
                vllm("vllm:num_requests_running", "4x20"),
                vllm("vllm:generation_tokens_total", "0x20"),
                vllm("vllm:prompt_tokens_total", "0+500x20"),
            ],
            silent("15m"),
        ),
    ],
    "VLLMKEDAScalerErrors": [
        (
            "fires-while-the-scaler-errors",
            [keda("0+1x20")],
            fires("15m", **WARN, pool="on-demand", scaledObject=f"{FULL}-on-demand"),
        ),
        ("silent-without-errors", [keda("0x20")], silent("15m")),
    ],
    "VLLMSpotCapacityUnavailable": [
        (
            "fires-when-spot-pods-stay-pending",
            [ksm("kube_pod_status_phase", "1x15", pod=SPOT_POD, phase="Pending")],
            fires("10m", **WARN, namespace=NAMESPACE, pool="spot"),
        ),
        (
            "silent-once-they-run",
            [
                ksm("kube_pod_status_phase", "0x15", pod=SPOT_POD, phase="Pending"),
                ksm("kube_pod_status_phase", "1x15", pod=SPOT_POD, phase="Running"),
            ],
            silent("10m"),
        ),
    ],
    "VLLMGPUPodsPending": [
        (
            "fires-after-the-pending-allowance",
            [ksm("kube_pod_status_phase", "1x30", pod=OD_POD, phase="Pending")],
            fires("20m", **WARN, **OD),
        ),
        (
            "silent-while-a-gpu-node-is-provisioned",
            [ksm("kube_pod_status_phase", "1x30", pod=OD_POD, phase="Pending")],
            silent("10m"),
        ),
    ],
    "VLLMNoReadyReplicas": [
        (
            "fires-when-wanted-replicas-are-all-gone-and-no-pod-is-starting",
            [
                ksm("kube_deployment_spec_replicas", "1x70", deployment=f"{FULL}-on-demand"),
                ksm("kube_deployment_status_replicas_available", "0x70", deployment=f"{FULL}-on-demand"),
                ksm("kube_pod_created", "0x70", pod=OD_POD),
            ],
            fires("60m", **CRIT, namespace=NAMESPACE),
        ),
        (
            "silent-during-a-first-model-load",
            [
                ksm("kube_deployment_spec_replicas", "1x70", deployment=f"{FULL}-on-demand"),
                ksm("kube_deployment_status_replicas_available", "0x70", deployment=f"{FULL}-on-demand"),
                ksm("kube_pod_created", "3300x70", pod=OD_POD),  # created five minutes before the evaluation
            ],
            silent("60m"),
        ),
        (
            "silent-for-a-pool-scaled-to-zero-on-purpose",
            [
                ksm("kube_deployment_spec_replicas", "0x70", deployment=f"{FULL}-spot"),
                ksm("kube_deployment_status_replicas_available", "0x70", deployment=f"{FULL}-spot"),
            ],
            silent("60m"),
        ),
        (
            "silent-while-a-replica-serves",
            [
                ksm("kube_deployment_spec_replicas", "1x70", deployment=f"{FULL}-on-demand"),
                ksm("kube_deployment_status_replicas_available", "1x70", deployment=f"{FULL}-on-demand"),
                ksm("kube_pod_created", "0x70", pod=OD_POD),
            ],
            silent("60m"),
        ),
    ],
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.is_file(), f"{PROMTOOL} is missing: run `make tools`"
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered groups without annotations (promtool compares those verbatim; checked separately)."""
    groups = [
        {**g, "rules": [{k: v for k, v in rule.items() if k != "annotations"} for rule in g["rules"]]}
        for g in GROUPS
    ]
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def test_promtool_accepts_the_rendered_groups_with_their_annotation_templates(tmp_path: Path) -> None:
    full = tmp_path / "full.yaml"
    full.write_text(yaml.safe_dump({"groups": GROUPS}, sort_keys=False))
    run = _run("check", "rules", str(full))
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_rendered_alert_has_a_firing_and_a_silent_case() -> None:
    assert set(CASES) == set(ALERTS), (
        f"untested: {set(ALERTS) - set(CASES)}, unknown: {set(CASES) - set(ALERTS)}"
    )
    for alert, cases in CASES.items():
        kinds = {"fires" if c[2]["exp_alerts"] else "silent" for c in cases}
        assert kinds == {"fires", "silent"}, f"{alert} has only {kinds} cases"


@pytest.mark.parametrize(
    ("alert", "case", "series", "evaluation"),
    [(a, name, s, e) for a, cases in CASES.items() for name, s, e in cases],
    ids=[f"{a}-{name}" for a, cases in CASES.items() for name, _s, _e in cases],
)
def test_alert_case_passes_promtool(
    alert: str,
    case: str,
    series: list[dict[str, str]],
    evaluation: dict[str, Any],
    rules_file: Path,
    tmp_path: Path,
) -> None:
    test = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": f"{alert}: {case}",
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [{"alertname": alert, **evaluation}],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    run = _run("test", "rules", str(path))
    assert run.returncode == 0, run.stdout + run.stderr

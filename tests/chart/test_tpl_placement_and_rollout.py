"""Where GPU pods land and how they are replaced: rollouts that cannot deadlock and report truthfully, spot
budgets per provider, the GPU type on the provider's node label (from the catalogue), no cloud assumed, and
flags by the image's vLLM version."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from chart_harness.render import CHART_DIR, RELEASE, ROOT, Rendered, helm_binary, render_chart
from vllm_model.catalog import gpu_node_labels

FULL = f"{RELEASE}-vllm-inference"
SPOT = {"pools": {"spot": {"enabled": True}}}


def _deployment(r: Rendered, pool: str = "on-demand") -> dict[str, Any]:
    return r.get("Deployment", f"{FULL}-{pool}")


def _pod(r: Rendered, pool: str = "on-demand") -> dict[str, Any]:
    spec: dict[str, Any] = _deployment(r, pool)["spec"]["template"]["spec"]
    return spec


def _required(pod: dict[str, Any]) -> list[dict[str, Any]]:
    node = (pod.get("affinity") or {}).get("nodeAffinity") or {}
    terms: list[dict[str, Any]] = node.get("requiredDuringSchedulingIgnoredDuringExecution", {}).get(
        "nodeSelectorTerms", []
    )
    return terms


# ---- Rollouts ----


def test_gpu_pools_are_replaced_in_place_by_default() -> None:
    spec = _deployment(render_chart())["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }


def test_progress_deadline_is_the_startup_budget_plus_provisioning_unless_set() -> None:
    assert _deployment(render_chart())["spec"]["progressDeadlineSeconds"] == 10 * 180 + 900
    slow = {"probes": {"startup": {"initialDelaySeconds": 60, "periodSeconds": 15, "failureThreshold": 200}}}
    assert _deployment(render_chart(slow))["spec"]["progressDeadlineSeconds"] == 60 + 15 * 200 + 900
    pinned = {"rollout": {"progressDeadlineSeconds": 4000}}
    assert _deployment(render_chart(pinned))["spec"]["progressDeadlineSeconds"] == 4000


def test_surge_rollouts_render_once_spare_gpu_capacity_is_stated() -> None:
    surge = {
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "rollout": {"spareGpuCapacity": True},
    }
    assert _deployment(render_chart(surge))["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 1


# ---- Spot budgets and drains ----


@pytest.mark.parametrize(
    ("provider", "budget"),
    [("karpenter", "100%"), ("eks", "100%"), ("labels", "100%"), ("gke", 1), ("aks", 1)],
)
def test_the_spot_budget_follows_whether_the_providers_reclaims_honour_pdbs(
    provider: str, budget: Any
) -> None:
    labels = {"capacityLabels": {"pool": "x"}} if provider == "labels" else {}
    values = {
        "capacityType": {"provider": provider},
        "pools": {"spot": {"enabled": True, **labels}, "onDemand": labels},
    }
    r = render_chart(values)
    assert r.get("PodDisruptionBudget", f"{FULL}-spot")["spec"]["maxUnavailable"] == budget
    assert r.get("PodDisruptionBudget", f"{FULL}-on-demand")["spec"]["maxUnavailable"] == 1


def test_a_declared_reclaim_behaviour_wins_over_the_providers() -> None:
    values = {"capacityType": {"provider": "karpenter", "spotDrainHonoursPdb": False}, **SPOT}
    assert render_chart(values).get("PodDisruptionBudget", f"{FULL}-spot")["spec"]["maxUnavailable"] == 1


def test_prestop_covering_the_load_balancer_renders_within_the_aws_notice() -> None:
    values = {
        "capacityType": {"provider": "eks", "loadBalancerDeregistrationSeconds": 20},
        "drain": {"preStopSleepSeconds": 20},
        "pools": {
            "spot": {"enabled": True, "drain": {"preStopSleepSeconds": 20, "shutdownTimeoutSeconds": 60}}
        },
    }
    r = render_chart(values)
    spot = _pod(r, "spot")
    assert spot["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] == 20
    assert spot["terminationGracePeriodSeconds"] == 20 + 60 + 2 <= 120


# ---- GPU type on the provider's node label ----


@pytest.mark.parametrize(
    ("provider", "node_label", "gpu", "key", "source"),
    [
        ("gke", "auto", "L4", "cloud.google.com/gke-accelerator", "gke"),
        ("karpenter", "auto", "A10G", "karpenter.k8s.aws/instance-gpu-name", "karpenter"),
        ("aks", "auto", "T4", "node.kubernetes.io/instance-type", "aks"),
        ("eks", "gfd", "H100-80GB", "nvidia.com/gpu.product", "gfd"),
        ("none", "karpenter", "L4", "karpenter.k8s.aws/instance-gpu-name", "karpenter"),
    ],
)
def test_gpu_type_requires_the_catalogues_value_of_the_providers_label(
    provider: str, node_label: str, gpu: str, key: str, source: str
) -> None:
    r = render_chart({"capacityType": {"provider": provider}, "gpu": {"type": gpu, "nodeLabel": node_label}})
    want = {"key": key, "operator": "In", "values": list(gpu_node_labels()[gpu][source])}
    terms = _required(_pod(r))
    assert terms and all(want in t["matchExpressions"] for t in terms)


def test_gpu_affinity_joins_every_required_term_of_the_pools_own_affinity() -> None:
    own = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                ]
            }
        }
    }
    values = {
        "capacityType": {"provider": "gke"},
        "gpu": {"type": "L4"},
        "pools": {"onDemand": {"affinity": own}},
    }
    terms = _required(_pod(render_chart(values)))
    gpu = {"key": "cloud.google.com/gke-accelerator", "operator": "In", "values": ["nvidia-l4"]}
    no_spot = {"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"}
    assert [t["matchExpressions"][1:] for t in terms] == [[no_spot, gpu], [no_spot, gpu]]


@pytest.mark.parametrize(
    "values",
    [
        {"capacityType": {"provider": "eks"}, "gpu": {"type": "L4"}},  # EKS node groups carry no GPU name
        {"capacityType": {"provider": "gke"}, "gpu": {"type": "L4", "nodeLabel": "none"}},
        {"capacityType": {"provider": "gke"}},  # no gpu.type
    ],
    ids=["eks-auto", "explicit-none", "no-gpu-type"],
)
def test_no_gpu_affinity_without_a_label_to_match(values: dict[str, Any]) -> None:
    assert not [t for t in _required(_pod(render_chart(values))) if "gpu" in str(t)]


def test_gpu_pods_tolerate_the_nvidia_gpu_taint_unless_told_not_to() -> None:
    gpu_taint = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert gpu_taint in _pod(render_chart())["tolerations"]
    assert gpu_taint not in _pod(render_chart({"gpu": {"tolerateGpuTaint": False}}))["tolerations"]


# ---- No cloud assumed ----


def _notes(*args: str) -> str:
    argv = [helm_binary(), "install", "n", str(CHART_DIR), "--dry-run=client", *args]
    run = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout.split("NOTES:", 1)[1]


def test_a_no_values_install_selects_no_capacity_type_and_notes_say_so() -> None:
    pod = _pod(render_chart())
    assert "nodeSelector" not in pod and "affinity" not in pod
    assert "capacityType.provider is none, so the pools select no on-demand/spot node label" in _notes()
    karpenter = _notes("--set", "capacityType.provider=karpenter", "--set", "pools.spot.enabled=true")
    assert (
        "karpenter labels keep each pool on its kind of node; spot reclaims drain through the PDB"
        in karpenter
    )


def test_the_local_cluster_preset_lands_on_its_nodes_labels() -> None:
    """The local cluster's nodes: GKE's spot label (on-demand nodes have none), its real nodes' label and
    GPU feature discovery's product label."""
    r = render_chart(values_files=[ROOT / "values" / "local-sim.yaml"])
    on_demand, spot = _pod(r), _pod(r, "spot")
    real = {"vllm-inference.local/node": "real"}
    assert on_demand["nodeSelector"] == real
    assert {"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"} in _required(on_demand)[0][
        "matchExpressions"
    ]
    assert spot["nodeSelector"] == {"cloud.google.com/gke-spot": "true", **real}
    product = {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L4"]}
    assert all(product in t["matchExpressions"] for t in _required(on_demand) + _required(spot))


# ---- Flags by vLLM version ----


def _args(values: dict[str, Any]) -> list[str]:
    args: list[str] = _pod(render_chart(values))["containers"][0]["args"]
    return args


@pytest.mark.parametrize(
    ("image", "shutdown"),
    [
        ({"tag": "v0.18.0"}, True),
        ({"tag": "0.33.0-cu128"}, True),
        ({"tag": "v0.17.1"}, False),
        ({"digest": "sha256:" + "cd" * 32, "vllmVersion": "0.20"}, True),
        ({"tag": "nightly-2026-11-30", "vllmVersion": "0.17.0"}, False),
    ],
    ids=["0.18", "0.33-cu128", "0.17", "digest-0.20", "nightly-0.17"],
)
def test_shutdown_timeout_renders_only_for_a_vllm_that_has_it(image: dict[str, str], shutdown: bool) -> None:
    drain = {} if shutdown else {"drain": {"shutdownTimeoutSeconds": 0}}
    args = _args({"image": image, **drain})
    assert ("--shutdown-timeout" in args) == shutdown


def test_the_flag_version_table_is_the_args_table() -> None:
    """One table (templates/_args.tpl) names each flag and the release it appeared in."""
    table = (CHART_DIR / "templates" / "_args.tpl").read_text()
    assert re.search(r"flag: --shutdown-timeout, kind: drain, since: 0\.18\.0", table)
    assert "0.18" not in (CHART_DIR / "templates" / "_validate_flags.tpl").read_text()


def test_unused_gpus_are_accepted_when_pipeline_parallelism_uses_them_or_when_allowed() -> None:
    pp = {"gpu": {"count": 2}, "vllm": {"extraArgs": ["--pipeline-parallel-size", "2"]}}
    assert _pod(render_chart(pp))["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2
    allowed = {"gpu": {"count": 2, "allowUnusedGpus": True}}
    assert _pod(render_chart(allowed))["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2

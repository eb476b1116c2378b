"""The guide's GKE node-pool commands (docs/guide/node-pools.md) against what the chart renders for the GKE
preset with its spot pool on: parsed from the doc, each pool's nodes get the labels and taints the command
gives plus those GKE adds (accelerator, node pool, spot; the nvidia.com/gpu taint), and then each chart pool's
pods tolerate every taint of their node pool and match its labels (nodeSelector and required affinity),
on-demand pods cannot land on the spot pool, and the GPU driver is installed by the command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from chart_harness.render import render_chart

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide" / "node-pools.md"
PRESET = ROOT / "values" / "t4-mistral-7b-awq.yaml"
_BLOCK = re.compile(r"^<!-- gke-node-pool: ([\w-]+) -->\n```sh\n(.*?)^```", re.M | re.S)


def commands() -> dict[str, list[str]]:
    return {m[1]: shlex.split(m[2].replace("\\\n", " ")) for m in _BLOCK.finditer(GUIDE.read_text())}


def flags(argv: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for arg in argv:
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            out[key] = value
    return out


def node_of(argv: list[str]) -> dict[str, Any]:
    """The labels and taints a node of that pool has: the command's, and GKE's own."""
    assert argv[:4] == ["gcloud", "container", "node-pools", "create"], argv
    f = flags(argv)
    accelerator = dict(kv.split("=", 1) for kv in f["accelerator"].split(","))
    labels = dict(kv.split("=", 1) for kv in f["node-labels"].split(",")) if f.get("node-labels") else {}
    labels |= {
        "cloud.google.com/gke-nodepool": argv[4],
        "cloud.google.com/gke-accelerator": accelerator["type"],
    }
    if "spot" in f:
        labels |= {"cloud.google.com/gke-spot": "true", "cloud.google.com/gke-provisioning": "spot"}
    taints = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    for t in filter(None, f.get("node-taints", "").split(",")):
        kv, effect = t.rsplit(":", 1)
        key, _, value = kv.partition("=")
        taints.append({"key": key, "value": value, "effect": effect})
    return {"labels": labels, "taints": taints, "accelerator": accelerator, "flags": f}


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") not in (None, "", taint["effect"]):
            continue
        if t.get("operator") == "Exists" and t.get("key") in (None, taint["key"]):
            return True
        if (
            t.get("key") == taint["key"]
            and t.get("operator", "Equal") == "Equal"
            and t.get("value") == taint["value"]
        ):
            return True
    return False


def matches(pod: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (pod.get("nodeSelector") or {}).items()):
        return False
    required = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True

    def expression(e: dict[str, Any]) -> bool:
        op, key = e["operator"], e["key"]
        return {
            "In": lambda: labels.get(key) in e["values"],
            "NotIn": lambda: labels.get(key) not in e["values"],
            "Exists": lambda: key in labels,
            "DoesNotExist": lambda: key not in labels,
        }[op]()

    return any(
        all(expression(e) for e in term.get("matchExpressions", [])) for term in required["nodeSelectorTerms"]
    )


@pytest.fixture(scope="module")
def pods() -> dict[str, dict[str, Any]]:
    rendered = render_chart({"pools": {"spot": {"enabled": True}}}, values_files=[PRESET])
    out = {}
    for d in rendered.of_kind("Deployment"):
        component = d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        out[component.removeprefix("pool-")] = d["spec"]["template"]["spec"]
    assert set(out) == {"on-demand", "spot"}
    return out


def test_the_guide_has_an_on_demand_and_a_spot_gke_pool() -> None:
    found = commands()
    assert set(found) == {"on-demand", "spot"}
    assert "spot" in flags(found["spot"]) and "spot" not in flags(found["on-demand"])


@pytest.mark.parametrize("pool", ["on-demand", "spot"])
def test_each_gke_pool_of_the_guide_takes_the_chart_pool_it_is_for(pods: dict[str, Any], pool: str) -> None:
    node = node_of(commands()[pool])
    assert node["accelerator"].get("gpu-driver-version") == "latest", "the pool must install the GPU driver"
    assert int(node["accelerator"]["count"]) >= 1
    pod = pods[pool]
    untolerated = [t for t in node["taints"] if not tolerates(pod.get("tolerations") or [], t)]
    assert untolerated == [], (
        f"the chart's {pool} pods do not tolerate {untolerated} of the guide's {pool} pool"
    )
    assert matches(pod, node["labels"]), f"the chart's {pool} pods do not select the guide's {pool} pool"
    gpus = pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
    assert int(node["accelerator"]["count"]) >= int(gpus)


def test_on_demand_pods_cannot_land_on_the_spot_pool_of_the_guide(pods: dict[str, Any]) -> None:
    spot = node_of(commands()["spot"])
    assert not matches(pods["on-demand"], spot["labels"])


def test_the_guide_pools_bound_the_whole_pool_not_each_zone() -> None:
    for argv in commands().values():
        f = flags(argv)
        assert "min-nodes" not in f and "max-nodes" not in f, "per-zone bounds: use --total-min/max-nodes"
        assert "total-min-nodes" in f and "total-max-nodes" in f

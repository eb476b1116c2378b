"""The harness itself: the validator refuses what the API server refuses, the pairwise cover is complete,
label/toleration semantics match Kubernetes, the values-table parser reads the helm-docs dialect, and a
sweep that checks nothing fails."""

import copy
from itertools import combinations

import pytest

from chart_harness import objects as k
from chart_harness import validate
from chart_harness.pairwise import pairwise_rows
from chart_harness.renders import assert_sweep
from chart_harness.values_docs import documented_keys
from chart_harness.versions import kube_minors

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "vllm", "labels": {"app.kubernetes.io/name": "vllm"}},
    "spec": {
        "selector": {"matchLabels": {"app": "vllm"}},
        "template": {
            "metadata": {"labels": {"app": "vllm"}},
            "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.33.0"}]},
        },
    },
}
SCALED_OBJECT = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "vllm"},
    "spec": {"scaleTargetRef": {"name": "vllm"}, "triggers": [{"type": "prometheus", "metadata": {}}]},
}


def _with(obj: dict, path: str, value: object) -> dict:
    out = copy.deepcopy(obj)
    node = out
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return out


@pytest.mark.parametrize("minor", kube_minors())
def test_validator_accepts_a_valid_deployment_and_scaledobject(minor: str) -> None:
    assert validate.errors(DEPLOYMENT, minor) == []
    assert validate.errors(SCALED_OBJECT, minor) == []


@pytest.mark.parametrize(
    ("obj", "path", "value", "needle"),
    [
        (DEPLOYMENT, "spec.replicaz", 2, "replicaz"),
        (DEPLOYMENT, "spec.template.spec.containers.0.resources", {"limits": {"memory": "16GB"}}, "16GB"),
        (DEPLOYMENT, "metadata.name", "Bad_Name", "Bad_Name"),
        (DEPLOYMENT, "metadata.labels", {"app.kubernetes.io/version": "v1+build"}, "v1+build"),
        (DEPLOYMENT, "spec.replicas", "2", "'2'"),
        (SCALED_OBJECT, "spec.pollInterval", 15, "pollInterval"),
        (SCALED_OBJECT, "spec.minReplicaCount", "one", "one"),
    ],
    ids=[
        "unknown-field",
        "bad-quantity",
        "bad-name",
        "bad-label-value",
        "wrong-type",
        "crd-unknown-field",
        "crd-type",
    ],
)
def test_validator_refuses_what_the_api_server_refuses(
    obj: dict, path: str, value: object, needle: str
) -> None:
    problems = validate.errors(_with(obj, path, value), kube_minors()[-1])
    assert any(needle in p for p in problems), problems


def test_validator_refuses_an_unknown_kind_instead_of_skipping_it() -> None:
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert any("no schema" in p for p in validate.errors(unknown, kube_minors()[-1]))


def test_pairwise_rows_cover_every_allowed_pair_and_hold_no_forbidden_row() -> None:
    factors = {"a": [1, 2, 3], "b": ["x", "y"], "c": [True, False], "d": [0, 1, 2, 3]}

    def allowed(row: dict) -> bool:
        return not (row.get("a") == 3 and row.get("d") == 0)

    rows = pairwise_rows(factors, allowed)
    assert all(allowed(r) and set(r) == set(factors) for r in rows)
    for f, g in combinations(factors, 2):
        for x in factors[f]:
            for y in factors[g]:
                if allowed({f: x, g: y}):
                    assert any(r[f] == x and r[g] == y for r in rows), (f, x, g, y)
    assert len(rows) < 3 * 2 * 2 * 4  # smaller than the full product
    assert rows == pairwise_rows(factors, allowed)  # deterministic


def test_label_selector_and_toleration_semantics() -> None:
    sel = {
        "matchLabels": {"a": "1"},
        "matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["x"]}],
    }
    assert k.selector_matches(sel, {"a": "1", "b": "y"})
    assert not k.selector_matches(sel, {"a": "1", "b": "x"})
    assert not k.selector_matches(sel, {"b": "y"})
    taint = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    assert k.tolerates([{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}], taint)
    assert k.tolerates([{"key": "gpu", "operator": "Exists"}], taint)
    assert k.tolerates([{"operator": "Exists"}], taint)
    assert not k.tolerates([{"key": "gpu", "operator": "Equal", "value": "false"}], taint)
    assert not k.tolerates([{"key": "gpu", "operator": "Exists", "effect": "NoExecute"}], taint)


def test_values_doc_parser_reads_helm_docs_comments_and_skips_list_items() -> None:
    text = (
        "# ===== Pools =====\n"
        "pools:\n"
        "  # -- Run the pool.\n"
        "  # Second line.\n"
        "  enabled: true\n"
        "  # -- Tolerations.\n"
        "  tolerations:\n"
        "    - key: gpu\n"
        "      value: x\n"
        "  undocumented: 1\n"
    )
    keys = {key: (section, doc) for key, section, doc in documented_keys(text)}
    assert set(keys) == {"pools", "pools.enabled", "pools.tolerations", "pools.undocumented"}
    assert keys["pools.enabled"][1].lines == ["Run the pool.", "Second line."]
    assert keys["pools.enabled"][0] == "Pools"
    assert keys["pools.undocumented"][1] is None


def test_a_sweep_fails_when_it_checks_nothing_as_well_as_when_a_fact_fails() -> None:
    with pytest.raises(AssertionError, match="nothing to check"):
        assert_sweep(0, [])
    with pytest.raises(AssertionError, match="1 of 3 checks failed"):
        assert_sweep(3, ["case: wrong"])
    assert_sweep(3, [])

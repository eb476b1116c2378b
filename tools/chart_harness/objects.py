"""Questions asked of rendered Kubernetes objects: pod templates, label selectors, taints, container args."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Obj = dict[str, Any]
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_specs(objects: list[Obj]) -> Iterator[tuple[Obj, Obj, Obj]]:
    """(owner object, pod metadata, pod spec) for every workload template (a CronJob's job template's too)
    and bare Pod."""
    for o in objects:
        if o["kind"] in WORKLOAD_KINDS:
            template = o["spec"]["template"]
            yield o, template.get("metadata") or {}, template["spec"]
        elif o["kind"] == "CronJob":
            template = o["spec"]["jobTemplate"]["spec"]["template"]
            yield o, template.get("metadata") or {}, template["spec"]
        elif o["kind"] == "Pod":
            yield o, o.get("metadata") or {}, o["spec"]


def labels(meta: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta.get("labels") or {})


def selector_matches(selector: Mapping[str, Any] | None, pod_labels: Mapping[str, str]) -> bool:
    """LabelSelector semantics (matchLabels and matchExpressions); an empty selector matches all."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if pod_labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in pod_labels
        if (
            (op == "In" and (not present or pod_labels[key] not in values))
            or (op == "NotIn" and present and pod_labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def selector_keys(selector: Mapping[str, Any] | None) -> set[str]:
    selector = selector or {}
    return set(selector.get("matchLabels") or {}) | {e["key"] for e in selector.get("matchExpressions") or []}


def tolerates(tolerations: list[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """Whether any toleration tolerates the taint (the scheduler's matching rules)."""
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        op = t.get("operator", "Equal")
        if op == "Exists" and (not t.get("key") or t["key"] == taint["key"]):
            return True
        if (
            op == "Equal"
            and t.get("key") == taint["key"]
            and (t.get("value") or "") == (taint.get("value") or "")
        ):
            return True
    return False


def gpu_count(container: Mapping[str, Any], resource: str) -> tuple[Any, Any]:
    """(request, limit) of the GPU resource in a container (None when absent)."""
    res = container.get("resources") or {}
    return (res.get("requests") or {}).get(resource), (res.get("limits") or {}).get(resource)


def gpu_containers(spec: Mapping[str, Any], resource: str) -> list[Obj]:
    return [c for c in spec.get("containers", []) if any(v is not None for v in gpu_count(c, resource))]


def flag(args: list[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value` in an argument list (None when absent)."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return str(args[i + 1])
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def flag_values(args: list[str], name: str) -> list[str]:
    """Every value following `--name` up to the next flag (for nargs='+' flags like --served-model-name)."""
    if name not in args:
        return []
    out = []
    for arg in args[args.index(name) + 1 :]:
        if arg.startswith("--"):
            break
        out.append(arg)
    return out


def prestop_seconds(container: Mapping[str, Any]) -> int:
    """Seconds the preStop hook holds the container: the native sleep action or an exec `sleep N`."""
    pre = ((container.get("lifecycle") or {}).get("preStop")) or {}
    if "sleep" in pre:
        return int(pre["sleep"]["seconds"])
    command = (pre.get("exec") or {}).get("command") or []
    for i, word in enumerate(command):
        if word.endswith("sleep") and i + 1 < len(command):
            return int(float(command[i + 1]))
    return 0


def volume(spec: Mapping[str, Any], name: str) -> Obj | None:
    return next((v for v in spec.get("volumes") or [] if v["name"] == name), None)


def mount_at(container: Mapping[str, Any], path: str) -> Obj | None:
    return next((m for m in container.get("volumeMounts") or [] if m["mountPath"] == path), None)


def images(objects: list[Obj]) -> Iterator[tuple[Obj, str]]:
    for owner, _meta, spec in pod_specs(objects):
        for c in (spec.get("initContainers") or []) + spec.get("containers", []):
            yield owner, c["image"]

"""The products' import graph: the base (vllm_model) imports no product, the simulator and the device plugin
never import the planner, and no import inside a product is circular (lazy imports in functions included);
and the wheel's explicit package list holds every package the products import.

Read from the source with ast, so an import hidden in a function body counts as much as one at the top."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from plan_paths import ROOT

SRC = ROOT / "src"
PRODUCTS = ("vllm_model", "vllm_sim", "vllm_plan", "gpu_device_plugin", "vllm_load")
# What each package may import of the others (itself always).
ALLOWED = {
    "vllm_model": set(),
    "vllm_sim": {"vllm_model"},
    "gpu_device_plugin": {"vllm_model"},
    # The planner measures live servers (`vllm-plan capacity`) with the load client.
    "vllm_plan": {"vllm_model", "vllm_sim", "vllm_load"},
    # The load client talks to any OpenAI-compatible server: it knows no product (its tests use vllm_sim).
    "vllm_load": set(),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every project module `path` imports, anywhere in the file (relative imports resolved)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in PRODUCTS}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py") if "_proto" not in p.parts}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_the_source_tree_holds_every_product() -> None:
    assert {name.split(".")[0] for name in _graph()} == set(PRODUCTS)


@pytest.mark.parametrize("package", PRODUCTS)
def test_a_package_imports_only_the_packages_below_it(package: str) -> None:
    crossing = {
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in ALLOWED[package] | {package}
    }
    assert not crossing, f"{package} may import only {sorted(ALLOWED[package]) or 'nothing'} of the products"


def test_no_module_imports_itself_back_through_others() -> None:
    graph = _graph()
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph[module]):
            if target in path:
                cycles.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_wheel_lists_every_package_under_src() -> None:
    """pyproject.toml names its packages one by one: a new subpackage left out is missing from the images."""
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    on_disk = {_module_name(init) for init in SRC.rglob("__init__.py")}
    assert set(listed) == on_disk

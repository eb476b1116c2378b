"""The generated chart files are what `make generate` writes now, and adding a GPU is one catalogue edit.

The second half runs the generator on a scratch copy of the catalogue, the generator and the chart with one
GPU added to src/vllm_model/catalog/gpus.yaml, and checks that the edit reaches exactly the generated files
(the sizing table, the schema's enum, the chart README) and that the chart then renders and size-checks
values for that GPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from chart_generate.files import expected, stale

from chart_harness.render import CHART_DIR, ROOT, HelmFailed, render_chart

# NVIDIA L40 (the catalogue has the L40S, not the L40): 48 GB GDDR6 (torch reports ~46068 MiB), 864 GB/s,
# 181.05 dense FP16/BF16 and 362.1 dense FP8 tensor TFLOPS, compute capability 8.9 (Ada).
L40 = """
L40:
  name: NVIDIA L40
  memory_mib: 46068
  bandwidth_gbps: 864
  fp16_tflops: 181.05
  fp8_tflops: 362.1
  compute_capability: 8.9
  bf16: true
  node_labels:
    gke: []
    karpenter: [l40]
    aks: []
"""


def test_every_generated_chart_file_is_what_make_generate_writes() -> None:
    want = expected(CHART_DIR)
    assert want
    assert not stale(want), (
        f"stale: {[str(p.relative_to(CHART_DIR)) for p in stale(want)]}: run `make generate`"
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def chart_with_l40(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch checkout (catalogue, generator, chart) after the one edit and `python -m chart_generate`."""
    root = tmp_path_factory.mktemp("add-a-gpu")
    for part in ("src/vllm_model", "tools/chart_generate", "tools/chart_harness"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    chart = root / "charts" / "vllm-inference"
    shutil.copytree(CHART_DIR, chart)
    gpus = root / "src" / "vllm_model" / "catalog" / "gpus.yaml"
    gpus.write_text(gpus.read_text() + L40)
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root / 'tools'}"}
    run = [sys.executable, "-m", "chart_generate", "--chart", str(chart)]
    subprocess.run(run, cwd=root, env=env, check=True, capture_output=True, text=True)
    return chart


def test_adding_a_gpu_to_the_catalogue_changes_exactly_the_generated_files(chart_with_l40: Path) -> None:
    before, after = _tree(CHART_DIR), _tree(chart_with_l40)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    assert changed == {"files/sizing.yaml", "values.schema.json", "README.md"}
    sizing = yaml.safe_load((chart_with_l40 / "files" / "sizing.yaml").read_text())
    assert sizing["gpus"]["L40"] == {
        "memoryMiB": 46068,
        "memoryBytes": 46068 * 2**20,
        "capability": 89,
        "bf16": True,
        "maxNumSeqs": 256,
        "nodeLabels": {"gke": [], "karpenter": ["l40"], "aks": [], "gfd": ["NVIDIA-L40"]},
    }
    assert '"L40"' in (chart_with_l40 / "values.schema.json").read_text()
    assert (
        "| `L40` | NVIDIA L40 | 46068 | 8.9 | yes | yes | 256 |" in (chart_with_l40 / "README.md").read_text()
    )


def test_the_chart_renders_and_size_checks_a_gpu_added_to_the_catalogue(chart_with_l40: Path) -> None:
    llama_8b = {
        "model": {"name": "meta-llama/Llama-3.1-8B-Instruct", "maxModelLen": 8192},
        "gpu": {"type": "L40"},
    }
    rendered = render_chart(
        {**llama_8b, "capacityType": {"provider": "karpenter"}},
        chart_dir=chart_with_l40,
        show_only=["templates/deployment.yaml"],
    )
    (deployment,) = rendered.of_kind("Deployment")
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    gpu_name = {"key": "karpenter.k8s.aws/instance-gpu-name", "operator": "In", "values": ["l40"]}
    assert [gpu_name in t["matchExpressions"] for t in terms] == [True]
    with pytest.raises(HelmFailed, match="no gke node with it"):
        render_chart({**llama_8b, "capacityType": {"provider": "gke"}}, chart_dir=chart_with_l40)
    with pytest.raises(HelmFailed, match=r"does not fit gpu\.type L40\b"):
        render_chart(
            {**llama_8b, "model": {"name": "meta-llama/Llama-3.1-70B-Instruct"}}, chart_dir=chart_with_l40
        )
    with pytest.raises(HelmFailed, match="gpu/type"):
        render_chart(llama_8b)  # the chart in the tree does not know it yet

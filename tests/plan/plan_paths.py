"""Paths and argument lists the planner tests share."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PRESETS = sorted((ROOT / "values").glob("*.yaml"))
# The presets that serve (a batch preset runs `vllm run-batch` Jobs: nothing to autoscale or route to).
SERVING_PRESETS = [
    p for p in PRESETS if not (yaml.safe_load(p.read_text()) or {}).get("batch", {}).get("enabled")
]
CHART = ROOT / "charts" / "vllm-inference"
CHART_VALUES = CHART / "values.yaml"
# The chart whose defaults a preset is read over, as `helm install -f PRESET charts/vllm-inference` does.
CHART_ARGS = ["--chart", str(CHART)]
SEED_T4 = ["--model", "mistralai/Mistral-7B-Instruct-v0.2", "--gpu", "T4", "--max-model-len", "4096"]

"""Paths and argument lists the planner tests share."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRESETS = sorted((ROOT / "values").glob("*.yaml"))
CHART_VALUES = ROOT / "charts" / "vllm-inference" / "values.yaml"
SEED_T4 = ["--model", "mistralai/Mistral-7B-Instruct-v0.2", "--gpu", "T4", "--max-model-len", "4096"]

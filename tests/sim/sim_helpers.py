"""Start real simulator processes on 127.0.0.1 (for the API, CLI, metrics and shutdown tests)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from vllm_sim.launch import SIM, SimProcess, launch

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
# A small Mixtral-shaped Hugging Face config.json: a model the catalogue does not know.
TINY_MOE_CONFIG = {
    "architectures": ["MixtralForCausalLM"],
    "hidden_size": 1024,
    "intermediate_size": 2048,
    "num_hidden_layers": 8,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
    "max_position_embeddings": 8192,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "torch_dtype": "bfloat16",
}
__all__ = ["QWEN", "TINY_MOE_CONFIG", "SimProcess", "call", "run_sim", "scrape", "start_sim", "value"]


def start_sim(
    tmp_path: Path, *flags: str, env: dict[str, str] | None = None, model: str = QWEN, wait: bool = True
) -> SimProcess:
    env = {"VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": "0.05", **(env or {})}
    return launch([model, *flags], tmp_path, env=env, wait=wait)


def run_sim(
    *args: str, env: dict[str, str] | None = None, timeout: float = 15
) -> subprocess.CompletedProcess[str]:
    """Run `vllm serve ...` to completion (for startup failures)."""
    full_env = {**os.environ, "VLLM_SIM_GPU": "L4", **(env or {})}
    return subprocess.run([*SIM, *args], capture_output=True, text=True, env=full_env, timeout=timeout)


def call(sim: SimProcess, path: str, body: dict | None = None, key: str | None = None) -> tuple[int, bytes]:
    """One HTTP request (POST when there is a body); returns (status, raw body), errors included."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{sim.url}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def scrape(sim: SimProcess) -> dict[str, Metric]:
    """/metrics parsed into families by name."""
    text = call(sim, "/metrics")[1].decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families: dict[str, Metric], name: str, **labels: str) -> float:
    """The value of the sample `name` (e.g. `vllm:prompt_tokens_total`) whose labels include `labels`."""
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise KeyError(name)

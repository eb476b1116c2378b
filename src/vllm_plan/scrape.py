"""vLLM's `/metrics` read alongside a load step: the gauges an autoscaler scales on, sampled over time.

Names as vLLM V1 exposes them (and vllm-sim mirrors, vllm_sim.metrics): `vllm:num_requests_running`,
`vllm:num_requests_waiting`, the KV-cache usage fraction `vllm:kv_cache_usage_perc` (before vLLM 0.10
`vllm:gpu_cache_usage_perc`, the same 0-1 fraction; removed in 0.12) and the `vllm:prompt_tokens` counter.
Series are summed over the `model_name` asked for (all of them when the target serves one model).
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")  # current name first
PROMPT_TOKENS = "vllm:prompt_tokens"  # a counter: the family name without _total


class ScrapeError(RuntimeError):
    """/metrics cannot be read or lacks vLLM's gauges; the message names the URL."""


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds
    running: float
    waiting: float
    kv_usage: float
    prompt_tokens: float


def _values(text: str, model: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if model is not None and sample.labels.get("model_name", model) != model:
                continue
            name = family.name if family.type != "counter" else family.name.removesuffix("_total")
            if family.type == "counter" and not sample.name.endswith("_total"):
                continue
            out[name] = out.get(name, 0.0) + sample.value
    return out


def parse_sample(text: str, model: str | None, at: float, url: str) -> tuple[Sample, str]:
    """One sample of `text` (Prometheus exposition), and the KV-cache metric's name found there."""
    values = _values(text, model)
    kv_name = next((name for name in KV_USAGE if name in values), None)
    missing = [name for name in (RUNNING, WAITING) if name not in values]
    if kv_name is None:
        missing.append(" or ".join(KV_USAGE))
    if missing or kv_name is None:
        which = f" for model_name {model!r}" if model else ""
        raise ScrapeError(f"--metrics-url {url}: no {', '.join(missing)}{which}: is this a vLLM /metrics?")
    sample = Sample(
        at=at,
        running=values[RUNNING],
        waiting=values[WAITING],
        kv_usage=values[kv_name],
        prompt_tokens=values.get(PROMPT_TOKENS, 0.0),
    )
    return sample, kv_name


def fetch(url: str, model: str | None, timeout: float = 5.0) -> tuple[Sample, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            text = resp.read().decode()
    except OSError as exc:
        raise ScrapeError(f"--metrics-url {url}: cannot read it: {exc}") from exc
    return parse_sample(text, model, time.time(), url)


async def sample_every(url: str, model: str | None, every_s: float, into: list[Sample]) -> None:
    """Append a sample to `into` every `every_s` seconds until cancelled (a failed read is skipped)."""
    while True:
        try:
            sample, _ = await asyncio.to_thread(fetch, url, model, max(1.0, every_s * 4))
            into.append(sample)
        except ScrapeError:
            pass
        await asyncio.sleep(every_s)

"""/metrics: vLLM's names, types, labels and units, moving with real traffic."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from sim_helpers import QWEN, call, scrape, start_sim, value

REMOVED = (
    "vllm:gpu_cache_usage_perc",
    "vllm:gpu_prefix_cache_queries",
    "vllm:gpu_prefix_cache_hits",
    "vllm:time_per_output_token_seconds",
)


def test_vllm_metric_names_and_types_are_served(sim_server):
    families = scrape(sim_server)
    expected = {
        "vllm:num_requests_running": "gauge",
        "vllm:num_requests_waiting": "gauge",
        "vllm:kv_cache_usage_perc": "gauge",
        "vllm:prefix_cache_queries": "counter",
        "vllm:prefix_cache_hits": "counter",
        "vllm:prompt_tokens": "counter",
        "vllm:generation_tokens": "counter",
        "vllm:request_success": "counter",
        "vllm:num_preemptions": "counter",
        "vllm:time_to_first_token_seconds": "histogram",
        "vllm:e2e_request_latency_seconds": "histogram",
        "vllm:inter_token_latency_seconds": "histogram",
        "vllm:request_queue_time_seconds": "histogram",
        "vllm:request_prefill_time_seconds": "histogram",
        "vllm:request_decode_time_seconds": "histogram",
        "vllm:iteration_tokens_total": "histogram",
    }
    assert {name: families[name].type for name in expected} == expected
    running = families["vllm:num_requests_running"].samples[0]
    assert running.labels == {"model_name": QWEN, "engine": "0"}


def test_removed_metric_names_are_absent(sim_server):
    families = scrape(sim_server)
    assert not [name for name in REMOVED if name in families]


def test_ttft_histogram_uses_vllms_buckets(sim_server):
    families = scrape(sim_server)
    bounds = [
        s.labels["le"]
        for s in families["vllm:time_to_first_token_seconds"].samples
        if s.name.endswith("_bucket")
    ]
    assert bounds[:3] == ["0.001", "0.005", "0.01"] and bounds[-2:] == ["2560.0", "+Inf"]


def test_counters_move_with_requests(sim_server):
    before = scrape(sim_server)
    client = openai.OpenAI(base_url=f"{sim_server.url}/v1", api_key="sekret", max_retries=0)
    for i in range(3):
        client.completions.create(
            model="qwen", prompt=f"count me {i} " * 8, max_tokens=5, extra_body={"ignore_eos": True}
        )
    after = scrape(sim_server)
    assert value(after, "vllm:generation_tokens_total") - value(before, "vllm:generation_tokens_total") == 15
    success = "vllm:request_success_total"
    assert (
        value(after, success, finished_reason="length") - value(before, success, finished_reason="length")
        == 3
    )
    assert value(after, "vllm:prompt_tokens_total") > value(before, "vllm:prompt_tokens_total")
    count = "vllm:e2e_request_latency_seconds_count"
    assert value(after, count) - value(before, count) == 3
    queries = "vllm:prefix_cache_queries_total"
    assert value(after, queries) > value(before, queries)


def test_kv_cache_usage_is_a_fraction_that_control_can_force(sim_server):
    assert 0.0 <= value(scrape(sim_server), "vllm:kv_cache_usage_perc") <= 1.0
    call(sim_server, "/sim/kv-usage", {"value": 0.85})
    try:
        assert value(scrape(sim_server), "vllm:kv_cache_usage_perc") == 0.85
    finally:
        call(sim_server, "/sim/kv-usage", {"value": None})
    assert value(scrape(sim_server), "vllm:kv_cache_usage_perc") < 0.85


def test_a_small_kv_pool_preempts_under_concurrency_and_every_request_completes(tmp_path):
    # 16 blocks = 256 tokens of KV for 6 concurrent requests needing ~110 tokens each.
    sim = start_sim(tmp_path, "--max-model-len", "2048", "--num-gpu-blocks-override", "16")
    try:
        client = openai.OpenAI(base_url=f"{sim.url}/v1", api_key="x", max_retries=0, timeout=30)

        def one(i: int) -> int:
            out = client.completions.create(
                model=QWEN, prompt=f"request {i} " * 4, max_tokens=100, extra_body={"ignore_eos": True}
            )
            return out.usage.completion_tokens

        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(one, range(6))) == [100] * 6
        families = scrape(sim)
        assert value(families, "vllm:num_preemptions_total") > 0
        with pytest.raises(openai.BadRequestError, match="the model's context length is only 256 tokens"):
            client.completions.create(model=QWEN, prompt="x" * 4 * 200, max_tokens=100)
    finally:
        sim.stop()

"""Prometheus metrics with vLLM V1's names, types, labels, units and buckets.

Names follow `vllm/v1/metrics/loggers.py` (PrometheusStatLogger): label set `model_name` + `engine`,
counters exposed with `_total`, KV-cache usage as a fraction in [0, 1]. Removed names
(`vllm:gpu_cache_usage_perc`, `vllm:gpu_prefix_cache_*`, `vllm:time_per_output_token_seconds`) are not
served, as in current releases.
"""

from __future__ import annotations

from collections.abc import Callable

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vllm_sim.engine import Request

prometheus_client.disable_created_metrics()

# fmt: off
TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
               40.0, 80.0]
REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                           120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]
# fmt: on
ITERATION_TOKEN_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
FINISH_REASONS = ("stop", "length", "abort", "error")
LABELS = ["model_name", "engine"]


def build_1_2_5_buckets(max_value: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... up to max_value (vLLM's helper of the same name)."""
    out: list[int] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > max_value:
                return out
            out.append(value)
        exponent += 1


class Metrics:
    """The engine's Observer, publishing to its own registry (served at /metrics)."""

    def __init__(
        self,
        model_name: str,
        max_model_len: int,
        *,
        running: Callable[[], float],
        waiting: Callable[[], float],
        kv_usage: Callable[[], float],
        draining: Callable[[], float],
        cache_info: dict[str, str],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        lv = (model_name, "0")

        def gauge(name: str, doc: str, fn: Callable[[], float]) -> None:
            Gauge(name, doc, LABELS, registry=reg).labels(*lv).set_function(fn)

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, LABELS, registry=reg).labels(*lv)

        def histogram(name: str, doc: str, buckets: list[float] | list[int]) -> Histogram:
            return Histogram(name, doc, LABELS, buckets=buckets, registry=reg).labels(*lv)

        gauge("vllm:num_requests_running", "Number of requests in model execution batches.", running)
        gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting)
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kv_usage)
        gauge("vllm:server_draining", "1 while the server drains for shutdown, else 0.", draining)
        info = Gauge(
            "vllm:cache_config_info",
            "Information of the LLMEngine CacheConfig",
            [*cache_info, "engine"],
            registry=reg,
        )
        info.labels(*cache_info.values(), "0").set(1)

        self.prefix_queries = counter(
            "vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens."
        )
        self.prefix_hits = counter(
            "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens."
        )
        self.preemptions = counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.")
        self.prompt_tokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter("vllm:generation_tokens", "Number of generation tokens processed.")
        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            [*LABELS, "finished_reason"],
            registry=reg,
        )
        self.success = {reason: success.labels(*lv, reason) for reason in FINISH_REASONS}

        token_buckets = build_1_2_5_buckets(max_model_len)
        self.req_prompt_tokens = histogram(
            "vllm:request_prompt_tokens", "Number of prefill tokens processed.", token_buckets
        )
        self.req_generation_tokens = histogram(
            "vllm:request_generation_tokens", "Number of generation tokens processed.", token_buckets
        )
        self.iteration_tokens = histogram(
            "vllm:iteration_tokens_total",
            "Histogram of number of tokens per engine_step.",
            ITERATION_TOKEN_BUCKETS,
        )
        self.max_tokens_param = histogram(
            "vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", token_buckets
        )
        self.n_param = histogram(
            "vllm:request_params_n", "Histogram of the n request parameter.", [1, 2, 5, 10, 20]
        )
        self.ttft = histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS
        )
        self.itl = histogram(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS
        )
        self.tpot = histogram(
            "vllm:request_time_per_output_token_seconds",
            "Histogram of time_per_output_token_seconds per request.",
            ITL_BUCKETS,
        )
        timing = {
            "e2e_request_latency_seconds": "Histogram of e2e request latency in seconds.",
            "request_queue_time_seconds": "Histogram of time spent in WAITING phase for request.",
            "request_inference_time_seconds": "Histogram of time spent in RUNNING phase for request.",
            "request_prefill_time_seconds": "Histogram of time spent in PREFILL phase for request.",
            "request_decode_time_seconds": "Histogram of time spent in DECODE phase for request.",
        }
        self.timing = {k: histogram(f"vllm:{k}", doc, REQUEST_LATENCY_BUCKETS) for k, doc in timing.items()}

    # -- Observer -----------------------------------------------------------------------------------
    def on_step(self, prompt_tokens: int, generation_tokens: int, preemptions: int) -> None:
        if prompt_tokens:
            self.prompt_tokens.inc(prompt_tokens)
        if generation_tokens:
            self.generation_tokens.inc(generation_tokens)
        if preemptions:
            self.preemptions.inc(preemptions)
        if prompt_tokens or generation_tokens:
            self.iteration_tokens.observe(prompt_tokens + generation_tokens)

    def on_prefix_lookup(self, queries: int, hits: int) -> None:
        self.prefix_queries.inc(queries)
        if hits:
            self.prefix_hits.inc(hits)

    def on_token(self, req: Request, now: float) -> None:
        if req.last_token_at is None:
            self.ttft.observe(now - req.arrival)
        else:
            self.itl.observe(now - req.last_token_at)

    def on_finish(self, req: Request) -> None:
        self.success[req.finish_reason or "abort"].inc()
        end = req.finished_at or req.arrival
        generated = len(req.output)
        self.req_prompt_tokens.observe(req.prompt_len)
        self.req_generation_tokens.observe(generated)
        self.max_tokens_param.observe(req.max_tokens)
        self.n_param.observe(1)
        self.timing["e2e_request_latency_seconds"].observe(end - req.arrival)
        if req.first_scheduled is not None:
            self.timing["request_queue_time_seconds"].observe(req.first_scheduled - req.arrival)
            self.timing["request_inference_time_seconds"].observe(end - req.first_scheduled)
            if req.first_token_at is not None:
                self.timing["request_prefill_time_seconds"].observe(req.first_token_at - req.first_scheduled)
                self.timing["request_decode_time_seconds"].observe(end - req.first_token_at)
                if generated > 1:
                    self.tpot.observe((end - req.first_token_at) / (generated - 1))

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)

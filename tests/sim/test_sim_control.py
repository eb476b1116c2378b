"""Test-only /sim/ control endpoints: off by default, and each one changes what the outside sees."""

from __future__ import annotations

import json
import time

import openai
from sim_helpers import call, scrape, start_sim, value


def test_control_endpoints_are_404_unless_enabled(tmp_path):
    sim = start_sim(tmp_path, "--max-model-len", "2048")
    try:
        for path in ("/sim/stats", "/sim/kv-usage", "/sim/crash"):
            assert call(sim, path, {} if path != "/sim/stats" else None)[0] == 404, path
        assert sim.proc.poll() is None
    finally:
        sim.stop()


def test_forced_queue_depth_shows_in_the_gauges(sim_server):
    call(sim_server, "/sim/queue", {"waiting": 40, "running": 8})
    try:
        families = scrape(sim_server)
        assert value(families, "vllm:num_requests_waiting") == 40
        assert value(families, "vllm:num_requests_running") == 8
    finally:
        call(sim_server, "/sim/queue", {"waiting": None, "running": None})
    assert value(scrape(sim_server), "vllm:num_requests_waiting") == 0


def test_out_of_range_control_values_are_400_naming_the_key(sim_server):
    status, body = call(sim_server, "/sim/kv-usage", {"value": 70})
    assert status == 400 and b"value must be a number between 0.0 and 1.0" in body


def test_failed_health_answers_503_until_restored(sim_server):
    call(sim_server, "/sim/health", {"healthy": False})
    try:
        assert call(sim_server, "/health")[0] == 503
    finally:
        call(sim_server, "/sim/health", {"healthy": True})
    assert call(sim_server, "/health")[0] == 200


def test_added_request_latency_delays_responses(sim_server):
    client = openai.OpenAI(base_url=f"{sim_server.url}/v1", api_key="sekret", max_retries=0)
    call(sim_server, "/sim/latency", {"request_seconds": 0.5})
    try:
        started = time.monotonic()
        client.completions.create(model="qwen", prompt="slow", max_tokens=1)
        assert time.monotonic() - started >= 0.5
    finally:
        call(sim_server, "/sim/latency", {"request_seconds": 0})


def test_stats_report_engine_state(sim_server):
    status, raw = call(sim_server, "/sim/stats")
    stats = json.loads(raw)
    assert status == 200 and stats["num_blocks"] > 0 and "p99_s" in stats["lag"]


def test_crash_exits_non_zero(tmp_path):
    sim = start_sim(tmp_path, "--max-model-len", "2048", env={"VLLM_SIM_CONTROL": "1"})
    try:
        assert call(sim, "/sim/crash", {"exit_code": 3})[0] == 200
        assert sim.proc.wait(timeout=5) == 3
    finally:
        sim.stop()

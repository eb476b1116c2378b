"""The load client against the real simulator: bounded in requests and time, paced by rate or concurrency,
every request counted as ok, failed (by error class) or retried, latencies measured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from load_helpers import StartSim

from vllm_load import LoadSpec, Report, run_load
from vllm_sim.launch import SimProcess, free_port


def in_background(spec: LoadSpec) -> Callable[[], Report]:
    """Start the load in a thread; the function returned waits for it and gives its report."""
    out: list[Report] = []
    worker = threading.Thread(target=lambda: out.append(run_load(spec)))
    worker.start()

    def result() -> Report:
        worker.join(60)
        (report,) = out
        return report

    return result


def control(sim: SimProcess, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{sim.url}{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        out: dict[str, object] = json.loads(resp.read())
        return out


@pytest.mark.parametrize("api", ["chat", "completions"])
@pytest.mark.parametrize("stream", [True, False])
def test_every_request_of_a_bounded_run_is_answered_and_timed(
    shared_sim: SimProcess, api: str, stream: bool
) -> None:
    spec = LoadSpec(
        url=shared_sim.url,
        api=api,
        stream=stream,
        rate=50,
        requests=20,
        max_tokens=8,
        ignore_eos=True,  # type: ignore[arg-type]
    )
    report = run_load(spec)
    assert (report.sent, report.ok, report.lost, report.retried) == (20, 20, 0, 0)
    assert all(r.output_tokens == 8 and r.finish_reason == "length" for r in report.results)
    lat = report.latencies()
    assert lat["latency_s"] is not None and lat["latency_s"]["count"] == 20
    if stream:
        assert lat["ttft_s"] is not None and lat["ttft_s"]["count"] == 20
        assert lat["itl_s"] is not None and lat["itl_s"]["count"] > 0
        assert all(r.ttft_s is not None and 0 < r.ttft_s <= r.latency_s for r in report.results)
    else:
        assert lat["ttft_s"] is None and lat["itl_s"] is None
    assert report.summary().startswith("lost requests: 0 of 20;")


def test_each_request_of_a_mix_gets_its_own_prompt_and_length(shared_sim: SimProcess) -> None:
    mix = (("one two three four", 3), ("a much longer prompt than the first " * 8, 9))
    spec = LoadSpec(
        url=shared_sim.url, api="completions", concurrency=2, requests=6, mix=mix, ignore_eos=True
    )
    report = run_load(spec)
    assert [r.output_tokens for r in report.results] == [3, 9, 3, 9, 3, 9]


def test_no_request_starts_after_the_duration_at_a_constant_rate(shared_sim: SimProcess) -> None:
    report = run_load(LoadSpec(url=shared_sim.url, rate=10, requests=1000, duration_s=1.0, max_tokens=2))
    assert report.sent == 10  # due at 0.0, 0.1, ... 0.9 s
    starts = [r.start_s for r in report.results]
    assert max(starts) < 1.0
    assert starts == sorted(starts)


def test_the_request_budget_bounds_a_fixed_concurrency_run(shared_sim: SimProcess) -> None:
    report = run_load(LoadSpec(url=shared_sim.url, concurrency=4, requests=12, duration_s=30, max_tokens=4))
    assert (report.sent, report.ok) == (12, 12)


def test_a_fixed_concurrency_never_has_more_requests_in_flight(start_sim: StartSim) -> None:
    sim = start_sim()
    run_load(LoadSpec(url=sim.url, concurrency=3, requests=24, max_tokens=32, ignore_eos=True))
    assert control(sim, "/sim/stats")["max_running_seen"] == 3


def test_a_server_that_is_gone_is_connection_refused_and_each_retry_is_counted() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    report = run_load(LoadSpec(url=url, model="m", concurrency=2, requests=4, retries=2))
    assert (report.sent, report.lost, report.retried) == (4, 4, 4)
    assert report.errors == {"connection_refused": 4}
    assert all(r.attempts == 3 for r in report.results)


def test_an_error_status_is_counted_by_its_code_and_not_retried_when_it_is_not_transient(
    start_sim: StartSim,
) -> None:
    sim = start_sim("--api-key", "sekret")
    report = run_load(LoadSpec(url=sim.url, model="m", concurrency=1, requests=3, retries=2))
    assert report.errors == {"http_401": 3}
    assert report.retried == 0
    good = run_load(LoadSpec(url=sim.url, api_key="sekret", concurrency=1, requests=3))
    assert good.lost == 0


def test_a_draining_server_answers_503_which_is_lost_and_in_flight_requests_complete(
    start_sim: StartSim,
) -> None:
    sim = start_sim("--shutdown-timeout", "20", env={"VLLM_SIM_TIME_SCALE": "1"})
    long = LoadSpec(url=sim.url, concurrency=1, requests=1, max_tokens=1500, ignore_eos=True, timeout_s=30)
    in_flight = in_background(long)
    time.sleep(1.0)
    sim.proc.send_signal(signal.SIGTERM)  # the simulator drains: new requests are refused
    time.sleep(0.3)
    refused = run_load(LoadSpec(url=sim.url, concurrency=1, requests=2, max_tokens=4, retries=1))
    assert refused.errors == {"http_503": 2}
    assert refused.retried == 2  # 503 is retried, and still refused
    assert in_flight().lost == 0


def test_streams_the_server_aborts_are_lost_as_truncated(start_sim: StartSim) -> None:
    sim = start_sim("--shutdown-timeout", "0", env={"VLLM_SIM_TIME_SCALE": "1"})
    spec = LoadSpec(url=sim.url, concurrency=4, requests=4, max_tokens=400, ignore_eos=True, timeout_s=30)
    aborted = in_background(spec)
    time.sleep(1.0)
    sim.proc.send_signal(signal.SIGTERM)  # no drain: in-flight requests are aborted
    report = aborted()
    assert report.lost == 4
    assert report.errors == {"truncated_stream": 4}


def test_a_request_slower_than_the_timeout_is_lost_as_a_timeout(start_sim: StartSim) -> None:
    sim = start_sim()
    control(sim, "/sim/latency", {"request_seconds": 2.0})
    report = run_load(LoadSpec(url=sim.url, concurrency=2, requests=2, timeout_s=0.5))
    assert report.errors == {"timeout": 2}
    assert all(r.latency_s < 1.5 for r in report.results)


def test_the_cli_prints_the_summary_line_and_writes_the_json_report(
    shared_sim: SimProcess, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "vllm_load", "--url", shared_sim.url, "--rate", "20", "--requests", "5"]
    done = subprocess.run([*cmd, "--max-tokens", "4", "--json", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("lost requests: 0 of 5;")
    report = json.loads(out.read_text())
    assert (report["sent"], report["ok"], report["lost"]) == (5, 5, 0)
    assert len(report["requests"]) == 5 and report["ttft_s"]["count"] == 5


def test_the_cli_refuses_a_bad_flag_naming_it_and_fails_past_max_lost(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "vllm_load", "--url", "http://127.0.0.1:1"]
    bad = subprocess.run([*cmd, "--rate", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--rate" in bad.stderr
    lost = subprocess.run(
        [*cmd, "--model", "m", "--rate", "10", "--requests", "2", "--max-lost", "0"],
        capture_output=True,
        text=True,
    )
    assert lost.returncode == 1
    assert lost.stdout.strip().startswith("lost requests: 2 of 2;")

"""The batch Job's wrapper (charts/vllm-inference/files/batch/batch_shard.py) around a real `vllm run-batch`
(the simulator's, as `vllm` on PATH, the way the images have it): shards split the input, malformed lines get
error lines instead of a crashed shard, and a shard killed at any point resumes without repeating or losing
a request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chart_harness.render import CHART_DIR

WRAPPER = CHART_DIR / "files" / "batch" / "batch_shard.py"
QWEN = "Qwen/Qwen2.5-0.5B-Instruct"


def request(i: int, tokens: int = 8) -> dict[str, Any]:
    body = {
        "model": QWEN,
        "messages": [{"role": "user", "content": f"doc {i}"}],
        "max_completion_tokens": tokens,
    }
    return {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}


@pytest.fixture
def vllm_bin(tmp_path: Path) -> Path:
    """A directory with `vllm` running the simulator, as /usr/local/bin/vllm does in the simulator image."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "vllm"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m vllm_sim "$@"\n')
    shim.chmod(0o755)
    return bin_dir


def write_input(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def shard_cmd(src: Path, out: Path, shards: int, index: int, *vllm_flags: str) -> list[str]:
    wrapper = [sys.executable, str(WRAPPER), "--input", str(src), "--output-dir", str(out)]
    vllm = ["vllm", "run-batch", "--model", QWEN, "--max-num-seqs", "4", *vllm_flags]
    return [*wrapper, "--shards", str(shards), "--index", str(index), "--", *vllm]


def env_with(vllm_bin: Path, scale: str = "0.01") -> dict[str, str]:
    path = f"{vllm_bin}:{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": scale}


def run_shard(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_shards_split_the_input_round_robin_and_together_answer_every_line_once(
    tmp_path: Path, vllm_bin: Path
) -> None:
    src = write_input(tmp_path / "in.jsonl", [request(i) for i in range(22)])
    out = tmp_path / "out"
    for index in range(4):
        proc = run_shard(shard_cmd(src, out, 4, index), env_with(vllm_bin))
        assert proc.returncode == 0, proc.stderr
        ids = [r["custom_id"] for r in records(out / f"shard-{index}.jsonl")]
        assert ids == [f"req-{i}" for i in range(index, 22, 4)]
    every = Counter(r["custom_id"] for i in range(4) for r in records(out / f"shard-{i}.jsonl"))
    assert set(every) == {f"req-{i}" for i in range(22)} and set(every.values()) == {1}
    assert sorted(p.name for p in out.iterdir()) == [f"shard-{i}.jsonl" for i in range(4)]


def test_malformed_lines_get_error_lines_and_the_shard_completes(tmp_path: Path, vllm_bin: Path) -> None:
    no_messages = {"custom_id": "bad-body", "method": "POST", "url": "/v1/chat/completions", "body": {}}
    lines = [request(0), "{this is not json", no_messages, '["not", "an object"]', request(1)]
    src = write_input(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out"
    proc = run_shard(shard_cmd(src, out, 1, 0), env_with(vllm_bin))
    assert proc.returncode == 0, proc.stderr
    by_id = {r["custom_id"]: r for r in records(out / "shard-0.jsonl")}
    assert set(by_id) == {"req-0", "req-1", "invalid-line-2", "bad-body", "invalid-line-4"}
    for cid in ("invalid-line-2", "bad-body", "invalid-line-4"):
        assert by_id[cid]["response"] == {**by_id[cid]["response"], "status_code": 400, "body": None}
        assert by_id[cid]["error"].startswith("invalid batch input line: line ")
    assert "needs `messages`" in by_id["bad-body"]["error"]
    assert by_id["req-0"]["response"]["status_code"] == 200


def test_a_rerun_after_a_kill_salvages_complete_lines_drops_the_torn_one_and_repeats_nothing(
    tmp_path: Path, vllm_bin: Path
) -> None:
    """The state a SIGKILL leaves: an output from an earlier attempt, and a part file of the attempt that was
    killed ending in a torn line. The rerun keeps both attempts' complete lines as they were (same `id`) and
    runs only the rest."""
    src = write_input(tmp_path / "in.jsonl", [request(i) for i in range(10)])
    out = tmp_path / "out"
    out.mkdir()
    first = run_shard(shard_cmd(src, out, 1, 0), env_with(vllm_bin))
    assert first.returncode == 0, first.stderr
    done = records(out / "shard-0.jsonl")
    lines = [json.dumps(r) for r in done]
    (out / "shard-0.jsonl").write_text("".join(x + "\n" for x in lines[:3]))
    (out / ".shard-0.part.jsonl").write_text("".join(x + "\n" for x in lines[3:6]) + lines[6][:40])
    proc = run_shard(shard_cmd(src, out, 1, 0), env_with(vllm_bin))
    assert proc.returncode == 0, proc.stderr
    assert "3 salvaged from the last attempt), 4 to run" in proc.stderr
    after = records(out / "shard-0.jsonl")
    assert Counter(r["custom_id"] for r in after) == Counter(f"req-{i}" for i in range(10))
    kept = {r["custom_id"]: r["id"] for r in done[:6]}
    assert {r["custom_id"]: r["id"] for r in after if r["custom_id"] in kept} == kept
    assert not (out / ".shard-0.part.jsonl").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_shard_killed_mid_run_resumes_to_every_request_exactly_once(
    tmp_path: Path, vllm_bin: Path, sig: signal.Signals
) -> None:
    """A real kill while vLLM writes: SIGTERM reaches vLLM through the wrapper, which merges what vLLM had
    flushed and exits 128 + 15; SIGKILL takes the whole process group (the pod's end after its grace), and
    the next start salvages the part file. Either way the rerun completes the shard without a repeat."""
    src = write_input(tmp_path / "in.jsonl", [request(i, tokens=32) for i in range(120)])
    out = tmp_path / "out"
    proc = subprocess.Popen(
        shard_cmd(src, out, 1, 0),
        env=env_with(vllm_bin, scale="0.3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    part = out / ".shard-0.part.jsonl"
    deadline = time.monotonic() + 60
    while not (part.exists() and part.stat().st_size > 0) and proc.poll() is None:
        assert time.monotonic() < deadline, "vLLM wrote nothing within 60 s"
        time.sleep(0.05)
    assert proc.poll() is None, "the shard finished before it could be killed: slow the simulator down"
    if sig == signal.SIGKILL:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == (-9 if sig == signal.SIGKILL else 143), err
    before = {r["custom_id"]: r["id"] for r in records(out / "shard-0.jsonl")}
    rerun = run_shard(shard_cmd(src, out, 1, 0), env_with(vllm_bin))
    assert rerun.returncode == 0, rerun.stderr
    after = records(out / "shard-0.jsonl")
    assert Counter(r["custom_id"] for r in after) == Counter(f"req-{i}" for i in range(120))
    assert {r["custom_id"]: r["id"] for r in after if r["custom_id"] in before} == before
    if sig == signal.SIGTERM:
        assert before, "the wrapper merged nothing vLLM had flushed before the SIGTERM"


def test_a_repeated_custom_id_is_a_configuration_error(tmp_path: Path, vllm_bin: Path) -> None:
    src = write_input(tmp_path / "in.jsonl", [request(0), request(1), request(0)])
    proc = run_shard(shard_cmd(src, tmp_path / "out", 1, 0), env_with(vllm_bin))
    assert proc.returncode == 2
    assert "custom_id must be unique within the batch" in proc.stderr and "'req-0' (line 3)" in proc.stderr


def test_a_missing_input_file_is_a_configuration_error(tmp_path: Path, vllm_bin: Path) -> None:
    proc = run_shard(shard_cmd(tmp_path / "nope.jsonl", tmp_path / "out", 2, 1), env_with(vllm_bin))
    assert proc.returncode == 2
    assert "does not exist: check batch.input.path" in proc.stderr


def test_vllms_exit_status_is_the_shards(tmp_path: Path, vllm_bin: Path) -> None:
    src = write_input(tmp_path / "in.jsonl", [request(0)])
    bad_flag = run_shard(shard_cmd(src, tmp_path / "a", 1, 0, "--max-num-seq", "8"), env_with(vllm_bin))
    assert bad_flag.returncode == 2
    assert "unrecognized arguments: --max-num-seq" in bad_flag.stderr
    too_big = shard_cmd(src, tmp_path / "b", 1, 0)
    too_big[too_big.index(QWEN)] = "meta-llama/Llama-3.1-70B-Instruct"
    assert run_shard(too_big, env_with(vllm_bin)).returncode == 1


def test_the_index_defaults_to_the_jobs_completion_index(tmp_path: Path, vllm_bin: Path) -> None:
    src = write_input(tmp_path / "in.jsonl", [request(i) for i in range(6)])
    cmd = shard_cmd(src, tmp_path / "out", 3, 0)
    del cmd[cmd.index("--index") : cmd.index("--index") + 2]
    proc = run_shard(cmd, {**env_with(vllm_bin), "JOB_COMPLETION_INDEX": "2"})
    assert proc.returncode == 0, proc.stderr
    assert [r["custom_id"] for r in records(tmp_path / "out" / "shard-2.jsonl")] == ["req-2", "req-5"]

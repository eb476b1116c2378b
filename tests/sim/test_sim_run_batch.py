"""`vllm run-batch` on the simulator: vLLM's batch file formats, its per-line errors, its exit codes, and the
requests timed by the same engine as `vllm serve`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from sim_helpers import QWEN

from vllm_model.catalog import resolve_model
from vllm_sim.args import parse_serve_args
from vllm_sim.assemble import assemble
from vllm_sim.launch import SIM
from vllm_sim.run_batch import run_batch as run_batch_file
from vllm_sim.serve_plan import plan_from_args, read_env

BGE = "BAAI/bge-base-en-v1.5"


def chat_line(custom_id: str, content: str = "hello", **body: Any) -> dict[str, Any]:
    body = {
        "model": QWEN,
        "messages": [{"role": "user", "content": content}],
        "max_completion_tokens": 8,
        **body,
    }
    return line(custom_id, "/v1/chat/completions", body)


def line(custom_id: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def run_batch(
    tmp_path: Path, lines: list[Any], *flags: str, model: str = QWEN, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """`vllm run-batch -i IN -o OUT --model MODEL FLAGS` over `lines` (dicts as JSON, strings verbatim)."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    full_env = {**os.environ, "VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": "0.01", **(env or {})}
    cmd = [*SIM, "run-batch", "-i", str(src), "-o", str(out), "--model", model, *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=60)
    records = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    return proc, records


def test_every_request_gets_one_output_line_in_input_order_with_vllms_fields(tmp_path: Path) -> None:
    lines = [chat_line(f"req-{i}", "word " * i) for i in range(30)]
    proc, records = run_batch(tmp_path, lines, "--max-num-seqs", "4")
    assert proc.returncode == 0, proc.stderr
    assert [r["custom_id"] for r in records] == [f"req-{i}" for i in range(30)]
    first = records[0]
    assert list(first) == ["id", "custom_id", "response", "error"]
    assert first["id"].startswith("vllm-") and first["error"] is None
    assert first["response"]["status_code"] == 200
    assert first["response"]["request_id"].startswith("vllm-batch-")
    body = first["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == QWEN
    assert body["usage"]["completion_tokens"] <= 8
    assert len({r["id"] for r in records}) == 30


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    proc, records = run_batch(tmp_path, [chat_line("a"), "", "   ", chat_line("b")])
    assert proc.returncode == 0, proc.stderr
    assert [r["custom_id"] for r in records] == ["a", "b"]


def test_a_request_vllm_refuses_gets_its_error_response_and_status(tmp_path: Path) -> None:
    lines = [chat_line("unknown-model", model="nope"), chat_line("too-long", "word " * 5000), chat_line("ok")]
    proc, records = run_batch(tmp_path, lines, "--max-model-len", "1024")
    assert proc.returncode == 0, proc.stderr
    by_id = {r["custom_id"]: r for r in records}
    missing = by_id["unknown-model"]
    assert missing["response"]["status_code"] == 404 and missing["response"]["body"] is None
    assert missing["error"]["error"]["message"] == "The model `nope` does not exist."
    long = by_id["too-long"]
    assert long["response"]["status_code"] == 400
    assert "context length is only 1024 tokens" in long["error"]["error"]["message"]
    assert by_id["ok"]["response"]["status_code"] == 200


def test_unsupported_urls_tasks_and_streaming_get_error_lines_not_a_crash(tmp_path: Path) -> None:
    completions = {
        "custom_id": "c",
        "method": "POST",
        "url": "/v1/completions",
        "body": chat_line("c")["body"],
    }
    embed = {
        "custom_id": "e",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": QWEN, "input": "x"},
    }
    lines = [completions, embed, chat_line("s", stream=True), chat_line("ok")]
    proc, records = run_batch(tmp_path, lines)
    assert proc.returncode == 0, proc.stderr
    errors = {r["custom_id"]: (r["response"]["status_code"], r["error"]) for r in records}
    assert errors["c"] == (
        400,
        "URL /v1/completions was used. Supported endpoints: /v1/chat/completions, /v1/embeddings, /score, "
        "/rerank.",
    )
    assert errors["e"] == (400, "The model does not support Embeddings API")
    assert errors["s"] == (400, "Request must not be sent in stream mode")
    assert errors["ok"] == (200, None)


def test_an_embedding_model_answers_embeddings_and_refuses_chat(tmp_path: Path) -> None:
    embed = {
        "custom_id": "e",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": BGE, "input": "hi"},
    }
    proc, records = run_batch(tmp_path, [embed, chat_line("c", model=BGE)], model=BGE)
    assert proc.returncode == 0, proc.stderr
    assert records[0]["response"]["body"]["object"] == "list"
    assert len(records[0]["response"]["body"]["data"][0]["embedding"]) == 768
    assert records[1]["error"] == "The model does not support Chat Completions API"


def test_a_malformed_line_stops_the_run_with_pydantics_error_and_exit_1(tmp_path: Path) -> None:
    for bad in ["{not json", '["a list"]', json.dumps({"method": "POST", "url": "/v1/chat/completions"})]:
        proc, _ = run_batch(tmp_path, [chat_line("a"), bad])
        assert proc.returncode == 1, bad
        assert "ValidationError: 1 validation error for BatchRequestInput" in proc.stderr, bad


def test_a_chat_body_without_messages_stops_the_run(tmp_path: Path) -> None:
    proc, _ = run_batch(tmp_path, [line("x", "/v1/chat/completions", {"prompt": "hi"})])
    assert proc.returncode == 1
    assert "body" in proc.stderr and "BatchRequestInput" in proc.stderr


def test_server_only_flags_and_missing_files_are_bad_arguments_exit_2(tmp_path: Path) -> None:
    for flags in (["--api-key", "k"], ["--shutdown-timeout", "5"], ["--host", "127.0.0.1"], [QWEN]):
        proc, _ = run_batch(tmp_path, [chat_line("a")], *flags)
        assert proc.returncode == 2, flags
        assert f"vllm run-batch: error: unrecognized arguments: {flags[0]}" in proc.stderr
    env = {**os.environ, "VLLM_SIM_GPU": "L4"}
    proc = subprocess.run([*SIM, "run-batch", "--model", QWEN], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "the following arguments are required: -i/--input-file, -o/--output-file" in proc.stderr


def test_a_model_that_does_not_fit_exits_1_as_vllm_does(tmp_path: Path) -> None:
    proc, records = run_batch(tmp_path, [chat_line("a")], model="meta-llama/Llama-3.1-70B-Instruct")
    assert proc.returncode == 1
    assert "CUDA out of memory" in proc.stderr
    assert records == []


def test_the_output_is_emptied_at_start_like_vllms_writer(tmp_path: Path) -> None:
    (tmp_path / "out.jsonl").write_text('{"custom_id": "old"}\n')
    proc, records = run_batch(tmp_path, [chat_line("new")])
    assert proc.returncode == 0, proc.stderr
    assert [r["custom_id"] for r in records] == ["new"]


def test_the_engine_holds_at_most_the_in_flight_cap_of_requests(tmp_path: Path) -> None:
    """run_batch keeps at most `max_in_flight` requests in the engine (vLLM: 2 x max-num-seqs), and does run
    several at once: the engine's running + waiting queues, sampled while the batch runs."""
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps(chat_line(f"r{i}", max_completion_tokens=32, ignore_eos=True)) + "\n"
            for i in range(24)
        )
    )
    args = parse_serve_args(["--model", QWEN, "--max-num-seqs", "2"], prog="vllm run-batch")
    sim_env = read_env({"VLLM_SIM_GPU": "L4", "VLLM_SIM_TIME_SCALE": "0.02"})
    model = resolve_model(QWEN)
    plan = plan_from_args(args, model, sim_env)

    async def go() -> tuple[int, int]:
        built = assemble(args, model, plan, sim_env, {}, None)
        built.runner.start()
        peak = 0

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, len(built.engine.running) + len(built.engine.waiting))
                await asyncio.sleep(0)

        sampler = asyncio.create_task(sample())
        with (tmp_path / "out.jsonl").open("w") as out:
            written = await run_batch_file(built.sim, str(src), out, max_in_flight=4)
        sampler.cancel()
        await built.runner.stop()
        return written, peak

    written, peak = asyncio.run(go())
    assert written == 24
    assert 2 <= peak <= 4

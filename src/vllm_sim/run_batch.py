"""`vllm-sim run-batch -i IN -o OUT --model MODEL [engine flags]`: vLLM's offline batch runner
(`vllm run-batch`, vllm/entrypoints/openai/run_batch.py, the streaming version of the 0.33-era main branch)
on the simulator's engine, timed like `vllm-sim serve` (VLLM_SIM_TIME_SCALE, VLLM_SIM_LOAD_SECONDS).

As vLLM does it:
- Input: the OpenAI batch file format, one JSON object a line (`custom_id`, `method`, `url`, `body`); blank
  lines are skipped. A line that is not such an object (bad JSON, a missing field, a body that is no request
  of its URL) stops the whole run with pydantic's ValidationError, exit status 1: vLLM validates each line
  with `BatchRequestInput.model_validate_json` outside any error handling.
- URLs: /v1/chat/completions and /v1/embeddings run (the model must support the task, else an error line
  "The model does not support ... API"); any other URL gets an error line naming the supported endpoints.
  /score and /rerank are accepted by vLLM for pooling models; the simulator models neither and answers an
  error line saying so.
- Output: one line per input line, in input order (vLLM's OrderedStreamingWriter), compact JSON
  `{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}`. A request vLLM refuses
  (too long, unknown model) gets its ErrorResponse as `error` and its HTTP status as `status_code`; a
  streamed request gets "Request must not be sent in stream mode". The file is opened for writing (emptied)
  at start and written through Python's buffer, flushed every 100 lines, so a killed run leaves at most a
  prefix of the output, possibly ending in a torn line (the chart's wrapper, files/batch-shard.py, resumes
  from it).
- At most 2 x max-num-seqs requests are in flight; the rest wait to be read.
- Exit status: 0 done; 2 a bad flag (argparse; the server's own flags such as --host or --api-key are not
  run-batch's); 1 where vLLM would not start (the model does not fit, ...) or a line stopped the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from vllm_sim import VLLM_VERSION, runtime_env
from vllm_sim.api import ApiError, SimServer, embedding_response, generation_response
from vllm_sim.args import parse_serve_args
from vllm_sim.assemble import assemble, configure_logging
from vllm_sim.serve_plan import StartupError, start_up, startup_failed

PROG = "vllm run-batch"
FLUSH_EVERY = 100  # vLLM's OrderedStreamingWriter flushes its file every 100 written lines
# `vllm serve`'s own (frontend) flags, which run-batch's parser does not have: it exits 2 on them.
SERVER_ONLY_FLAGS = frozenset(
    {
        "--host",
        "--api-key",
        "--shutdown-timeout",
        "--lora-modules",
        "--uds",
        "--root-path",
        "--allowed-origins",
        "--ssl-keyfile",
        "--ssl-certfile",
        "--uvicorn-log-level",
    }
)
SUPPORTED = "/v1/chat/completions, /v1/embeddings, /score, /rerank"
log = logging.getLogger("vllm_sim")


class BatchLineError(Exception):
    """A line BatchRequestInput does not validate: vLLM's run stops with pydantic's ValidationError."""


@dataclass
class BatchRequest:
    custom_id: str
    method: str
    url: str
    body: dict[str, Any]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        allow_abbrev=False,
        usage=f"{PROG} -i INPUT_FILE -o OUTPUT_FILE --model MODEL [engine flags]",
        description="vLLM OpenAI-Compatible batch runner (simulated). Every engine flag the simulator "
        "models applies (see `vllm-sim serve --help`).",
    )
    p.add_argument("-i", "--input-file", required=True, help="The path to a single input file (JSONL).")
    p.add_argument("-o", "--output-file", required=True, help="The path to a single output file.")
    p.add_argument("--output-tmp-dir", default=None)
    p.add_argument("--response-role", default="assistant")
    p.add_argument("--max-log-len", type=int, default=None)
    p.add_argument("--enable-metrics", action="store_true")
    p.add_argument("--url", default="0.0.0.0")
    p.add_argument("--enable-prompt-tokens-details", action="store_true")
    p.add_argument("--enable-force-include-usage", action="store_true")
    return p


def _body_fits(url: str, body: Any) -> bool:
    """Whether `body` validates as a request of `url` the way vLLM's BatchRequestInput checks it: a chat
    completion needs `messages` (a list), an embedding request `input` (or chat-style `messages`); any other
    URL takes whichever of those fits."""
    if not isinstance(body, dict):
        return False
    chat = isinstance(body.get("messages"), list)
    if url == "/v1/chat/completions":
        return chat
    if url == "/v1/embeddings":
        return "input" in body or chat
    if url.endswith(("/score", "/rerank")):
        return True
    return chat or "input" in body


def parse_line(line: str) -> BatchRequest:
    """One input line as BatchRequestInput, or BatchLineError with pydantic's wording."""
    head = "1 validation error for BatchRequestInput\n"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BatchLineError(f"{head}  Invalid JSON: {exc.msg} at line 1 column {exc.colno}") from exc
    if not isinstance(obj, dict):
        raise BatchLineError(f"{head}  Input should be an object [type=model_type, input_value={line[:60]}]")
    for key in ("custom_id", "method", "url"):
        if key not in obj:
            raise BatchLineError(f"{head}{key}\n  Field required [type=missing]")
        if not isinstance(obj[key], str):
            raise BatchLineError(f"{head}{key}\n  Input should be a valid string [type=string_type]")
    if "body" not in obj:
        raise BatchLineError(f"{head}body\n  Field required [type=missing]")
    if not _body_fits(obj["url"], obj["body"]):
        raise BatchLineError(f"{head}body\n  Input is not a valid request of {obj['url']} [type=model_type]")
    return BatchRequest(obj["custom_id"], obj["method"], obj["url"], obj["body"])


def _record(custom_id: str, status: int, body: Any, error: Any) -> dict[str, Any]:
    """A BatchRequestOutput line (vLLM's ids: `vllm-<uuid hex>`, `vllm-batch-<uuid hex>`)."""
    return {
        "id": f"vllm-{uuid.uuid4().hex}",
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": f"vllm-batch-{uuid.uuid4().hex}", "body": body},
        "error": error,
    }


def error_record(custom_id: str, message: str) -> dict[str, Any]:
    """make_error_request_output: status 400, no body, the message as `error`."""
    return _record(custom_id, 400, None, message)


Handler = Callable[[SimServer, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _chat(sim: SimServer, body: dict[str, Any]) -> dict[str, Any]:
    return await generation_response(sim, body, chat=True)


def handler_for(sim: SimServer, url: str) -> Handler | str:
    """The serving function a request's URL goes to, or the error line's message where vLLM writes one."""
    pooling = sim.model.is_embedding_model
    if url == "/v1/chat/completions":
        return "The model does not support Chat Completions API" if pooling else _chat
    if url == "/v1/embeddings":
        return embedding_response if pooling else "The model does not support Embeddings API"
    for suffix, api in (("/score", "Scores"), ("/rerank", "Rerank")):
        if url.endswith(suffix):
            who = "vllm-sim does not model" if pooling else "The model does not support"
            return f"{who} the {api} API"
    return f"URL {url} was used. Supported endpoints: {SUPPORTED}."


async def run_request(sim: SimServer, handler: Handler, request: BatchRequest) -> dict[str, Any]:
    if request.body.get("stream"):
        return error_record(request.custom_id, "Request must not be sent in stream mode")
    try:
        body = await handler(sim, request.body)
    except ApiError as err:
        return _record(request.custom_id, err.status, None, err.body())
    return _record(request.custom_id, 200, body, None)


class OrderedWriter:
    """Writes results in input order as they complete; flushes the file every FLUSH_EVERY lines."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.next_to_write = 0
        self.buffer: dict[int, dict[str, Any]] = {}

    def add(self, index: int, record: dict[str, Any]) -> None:
        self.buffer[index] = record
        while self.next_to_write in self.buffer:
            self.out.write(json.dumps(self.buffer.pop(self.next_to_write), separators=(",", ":")) + "\n")
            self.next_to_write += 1
            if self.next_to_write % FLUSH_EVERY == 0:
                self.out.flush()


async def run_batch(sim: SimServer, input_file: str, out: IO[str], max_in_flight: int) -> int:
    """Every line of `input_file` through the engine, results to `out`; returns the lines written."""
    writer = OrderedWriter(out)
    semaphore = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task[None]] = set()

    async def one(index: int, handler: Handler, request: BatchRequest) -> None:
        try:
            writer.add(index, await run_request(sim, handler, request))
        finally:
            semaphore.release()

    log.info("Reading batch from %s...", input_file)
    index = 0
    try:
        with open(input_file, encoding="utf-8") as fh:
            for raw in fh:
                line = raw.strip()
                if not line:
                    continue
                request = parse_line(line)
                handler = handler_for(sim, request.url)
                if isinstance(handler, str):
                    writer.add(index, error_record(request.custom_id, handler))
                else:
                    await semaphore.acquire()
                    task = asyncio.create_task(one(index, handler, request))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                index += 1
        log.info("All %d requests submitted, waiting for completion...", index)
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    log.info("Batch complete. Written: %d, Final buffer: %d", writer.next_to_write, len(writer.buffer))
    return writer.next_to_write


async def _main(own: argparse.Namespace, args: argparse.Namespace) -> int:
    env = os.environ
    try:
        started = start_up(args, env)
    except StartupError as err:
        return startup_failed(err)
    if started.sim_env.load_seconds:
        log.info("Loading model weights (simulated: %.1f s)", started.sim_env.load_seconds)
        await asyncio.sleep(started.sim_env.load_seconds)
    plan = started.plan
    built = assemble(args, started.model, plan, started.sim_env, env, started.tokenizer)
    built.runner.start()
    try:
        # vLLM opens the output for writing before it reads the first line.
        with open(own.output_file, "w", encoding="utf-8") as out:
            await run_batch(built.sim, own.input_file, out, 2 * plan.max_num_seqs)
    except BatchLineError as err:
        print(f"pydantic_core._pydantic_core.ValidationError: {err}", file=sys.stderr, flush=True)
        return 1
    except OSError as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        await built.runner.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The real runner imports torch before it parses a flag: a pod it would crash on crashes here too.
    runtime_env.check()
    configure_logging()
    parser = _parser()
    own, rest = parser.parse_known_args(argv)
    server_only = [a for a in rest if a.split("=", 1)[0].replace("_", "-") in SERVER_ONLY_FLAGS]
    if server_only:
        parser.error(f"unrecognized arguments: {' '.join(server_only)}")
    args = parse_serve_args(rest, prog=PROG)
    if args.model_tag:  # run-batch takes the model as --model only
        parser.error(f"unrecognized arguments: {args.model_tag}")
    log.info("vLLM batch processing API version %s (vllm-sim)", VLLM_VERSION)
    return asyncio.run(_main(own, args))

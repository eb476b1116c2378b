"""The OpenAI-compatible HTTP API (aiohttp), shaped like vLLM's: routes, errors, SSE, usage, auth."""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from vllm_model.catalog import ModelSpec
from vllm_sim import VLLM_VERSION
from vllm_sim.engine import FINISHED, Request
from vllm_sim.metrics import Metrics
from vllm_sim.runner import AsyncEngine
from vllm_sim.tokenizer import Tokenizer
from vllm_sim.tokens import count_tokens, embedding, stable_seed

PROTECTED_PREFIXES = ("/v1", "/v2", "/inference")  # what vLLM's --api-key guards
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, err_type: str = "BadRequestError", param: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.err_type, self.param = status, message, err_type, param

    def body(self) -> dict[str, Any]:
        """vLLM's ErrorResponse."""
        error = {"message": self.message, "type": self.err_type, "param": self.param, "code": self.status}
        return {"error": error}

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status)


@dataclass
class SimServer:
    """Everything the handlers share."""

    model: ModelSpec
    served_names: list[str]
    max_model_len: int
    runner: AsyncEngine
    metrics: Metrics
    block_size: int
    seed: int
    kv_capacity: int | None = None  # tokens the KV pool holds (None: no KV cache, encoder-only)
    tokenizer: Tokenizer | None = None  # the model's real tokenizer, if it has one (else 4 chars a token)
    api_keys: set[str] = field(default_factory=set)
    lora_names: list[str] = field(default_factory=list)
    draining: bool = False
    health_failed: bool = False
    extra_request_latency: float = 0.0
    api_seconds: float = 0.0  # the modelled API server's time per request, already x VLLM_SIM_TIME_SCALE
    forced_kv_usage: float | None = None
    forced_waiting: int | None = None
    forced_running: int | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def context_limit(self) -> int:
        """Tokens a sequence may hold. A pool shrunk by --num-gpu-blocks-override may hold less than
        max-model-len: a longer sequence could never be scheduled, so it is refused like an over-long one."""
        return min(self.max_model_len, self.kv_capacity) if self.kv_capacity else self.max_model_len

    # -- gauges (control overrides win) -------------------------------------------------------------
    def running_count(self) -> float:
        engine = self.runner.engine
        return self.forced_running if self.forced_running is not None else len(engine.running)

    def waiting_count(self) -> float:
        engine = self.runner.engine
        return self.forced_waiting if self.forced_waiting is not None else len(engine.waiting)

    def kv_usage(self) -> float:
        return self.forced_kv_usage if self.forced_kv_usage is not None else self.runner.engine.kv_usage()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):08x}{self.seed & 0xFFFF:04x}"


SIM_KEY = web.AppKey("sim", SimServer)


def _server(request: web.Request) -> SimServer:
    return request.app[SIM_KEY]


# -- middleware ------------------------------------------------------------------------------------------
@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = _server(request)
    if sim.api_keys and request.method != "OPTIONS" and request.path.startswith(PROTECTED_PREFIXES):
        header = request.headers.get("Authorization", "")
        if not any(header == f"Bearer {key}" for key in sim.api_keys):
            return web.json_response({"error": "Unauthorized"}, status=401)
    try:
        return await handler(request)
    except ApiError as err:
        return err.response()


# -- helpers ---------------------------------------------------------------------------------------------
async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def _check_model(sim: SimServer, body: dict[str, Any], api: str, pooling: bool) -> str:
    if sim.draining:
        raise ApiError(
            503, "The server is shutting down and accepts no new requests.", "ServiceUnavailableError"
        )
    name = body.get("model") or sim.served_names[0]
    if name not in sim.served_names and name not in sim.lora_names:
        raise ApiError(404, f"The model `{name}` does not exist.", "NotFoundError", "model")
    if pooling != sim.model.is_embedding_model:
        raise ApiError(400, f"The model does not support {api} API")
    return name


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return "t" * 4 * len(prompt)  # token ids: one token each, in the simulator's 4-chars-a-token scheme
    raise ApiError(
        400, "prompt must be a string, a list with one string, or a list of token ids", param="prompt"
    )


def _chat_text(messages: Any) -> str:
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", param="messages")
    parts = []
    for msg in messages:
        if not isinstance(msg, dict):
            raise ApiError(400, "each message must be an object", param="messages")
        content = msg.get("content") or ""
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(f"<|im_start|>{msg.get('role', 'user')}\n{content}<|im_end|>\n")
    return "".join(parts) + "<|im_start|>assistant\n"


def _check_length(sim: SimServer, text: str, max_output: int) -> list[int] | None:
    """vLLM's renderer checks (vllm/renderers/params.py, TokenizeParams): a request may hold at most
    context length - requested output tokens of prompt, counted in the model's tokens (BOS included).
    Returns the prompt's token ids where the model has a real tokenizer (vllm_sim.tokenizer)."""
    total = sim.context_limit
    if max_output > total:
        raise ApiError(
            400,
            f"max_tokens={max_output} cannot be greater than max_model_len=max_total_tokens={total}. "
            f"Please request fewer output tokens. (parameter=max_tokens, value={max_output})",
            param="max_tokens",
        )
    max_input = total - max_output
    tokenizer = sim.tokenizer
    # Past this length no vocabulary could fit the text: vLLM refuses it without tokenizing.
    if (
        tokenizer is not None
        and len(text) > max_input
        and len(text) > max_input * tokenizer.max_chars_per_token
    ):
        chars = max_input * tokenizer.max_chars_per_token
        raise ApiError(
            400,
            f"You passed {len(text)} input characters and requested {max_output} output tokens. However, "
            f"the model's context length is only {total} tokens, resulting in a maximum input length of "
            f"{max_input} tokens (at most {chars} characters). Please reduce the length of the input prompt. "
            f"(parameter=input_text, value={len(text)})",
            param="input_text",
        )
    ids = tokenizer.encode(text) if tokenizer is not None else None
    # vLLM tokenizes at most max_input + 1 tokens, so that is the most it reports.
    count = min(len(ids) if ids is not None else max(1, count_tokens(text)), max_input + 1)
    if count > max_input:
        raise ApiError(
            400,
            f"You passed {count} input tokens and requested {max_output} output tokens. However, the model's "
            f"context length is only {total} tokens, resulting in a maximum input length of {max_input} "
            f"tokens. Please reduce the length of the input prompt. (parameter=input_tokens, value={count})",
            param="input_tokens",
        )
    return ids


def _build_request(sim: SimServer, body: dict[str, Any], text: str, prefix: str, chat: bool) -> Request:
    if int(body.get("n") or 1) != 1:
        raise ApiError(400, "vllm-sim serves n=1 only", param="n")
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    if requested is not None and (not isinstance(requested, int) or requested < 1):
        raise ApiError(400, "max_tokens must be at least 1, got " + repr(requested), param="max_tokens")
    # vLLM's completions default to 16 output tokens (OpenAI's default), chat to the rest of the context.
    max_output = requested if requested is not None else (0 if chat else 16)
    ids = _check_length(sim, text, max_output)
    prompt_len = len(ids) if ids is not None else max(1, count_tokens(text))
    total = sim.context_limit
    if prompt_len >= total:  # the engine's own check: no room for the one token every request makes
        raise ApiError(
            400,
            f"The decoder prompt (length {prompt_len}) plus the number of requested output tokens "
            f"(at least 1) is longer than the maximum model length of {total}. Make sure that "
            "`max_model_len` is no smaller than the number of text tokens "
            "(prompt + requested output tokens).",
        )
    max_tokens = min(max_output, total - prompt_len) if max_output else total - prompt_len
    stop = body.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(s for s in stop if s)
    seed = body.get("seed")
    return Request(
        sim.next_id(prefix),
        text,
        max_tokens,
        seed=stable_seed(sim.seed, text if seed is None else seed),
        block_size=sim.block_size,
        stop=stop,
        ignore_eos=bool(body.get("ignore_eos")),
        prompt_ids=ids,
    )


def _usage(req: Request) -> dict[str, Any]:
    completion = len(req.output)
    return {
        "prompt_tokens": req.prompt_len,
        "total_tokens": req.prompt_len + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": None,
    }


async def _submit_delay(sim: SimServer) -> None:
    """The API server's modelled time (TimingModel.api_seconds, on TTFT and E2E as in replay) plus any
    /sim/latency extra, before the engine sees the request."""
    delay = sim.api_seconds + sim.extra_request_latency
    if delay > 0:
        await asyncio.sleep(delay)


# -- generation ------------------------------------------------------------------------------------------
async def _stream(
    request: web.Request, sim: SimServer, req: Request, name: str, chat: bool, include_usage: bool
) -> web.StreamResponse:
    created = int(time.time())
    if chat:
        head = (
            f'data: {{"id":"{req.request_id}","object":"chat.completion.chunk","created":{created},'
            f'"model":{json.dumps(name)},"choices":[{{"index":0,"delta":'
        )
        first = head + '{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'
    else:
        head = (
            f'data: {{"id":"{req.request_id}","object":"text_completion","created":{created},'
            f'"model":{json.dumps(name)},"choices":[{{"index":0,"text":'
        )
        first = ""

    def chunk(text: str, finish: str | None) -> str:
        fin = "null" if finish is None else f'"{finish}"'
        if chat:
            delta = f'{{"content":{json.dumps(text)}}}' if text or finish is None else "{}"
            return f'{head}{delta},"logprobs":null,"finish_reason":{fin}}}]}}\n\n'
        return f'{head}{json.dumps(text)},"logprobs":null,"finish_reason":{fin},"stop_reason":null}}]}}\n\n'

    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    if first:
        await resp.write(first.encode())
    hold = max((len(s) for s in req.stop), default=1) - 1  # text that may still turn out to be a stop string
    sent_pieces = sent_chars = 0
    buf = ""
    await _submit_delay(sim)
    try:
        async with contextlib.aclosing(sim.runner.stream(req)) as moves:
            async for count in moves:
                finished = req.status == FINISHED
                if count > sent_pieces:
                    buf += "".join(req.output[sent_pieces:count])
                    sent_pieces = count
                upto = len(req.output_text) if finished else len(buf) - hold
                out = []
                if upto > sent_chars:
                    text = req.output_text if finished else buf
                    out.append(chunk(text[sent_chars:upto], None))
                    sent_chars = upto
                if finished:
                    out.append(chunk("", req.finish_reason))
                    if include_usage:
                        obj = "chat.completion.chunk" if chat else "text_completion"
                        usage = {
                            "id": req.request_id,
                            "object": obj,
                            "created": created,
                            "model": name,
                            "choices": [],
                            "usage": _usage(req),
                        }
                        out.append(f"data: {json.dumps(usage)}\n\n")
                    out.append("data: [DONE]\n\n")
                if out:
                    await resp.write("".join(out).encode())
        await resp.write_eof()
    except ConnectionResetError:  # the client left; closing the stream aborted its request
        pass
    return resp


def _prepare_generation(sim: SimServer, body: dict[str, Any], chat: bool) -> tuple[str, Request]:
    name = _check_model(sim, body, "Chat Completions" if chat else "Completions", pooling=False)
    text = _chat_text(body.get("messages")) if chat else _prompt_text(body.get("prompt"))
    return name, _build_request(sim, body, text, "chatcmpl" if chat else "cmpl", chat)


async def generation_response(sim: SimServer, body: dict[str, Any], chat: bool) -> dict[str, Any]:
    """A whole (non-streamed) completion or chat completion of `body`, run through the engine; raises
    ApiError where vLLM answers an error."""
    name, req = _prepare_generation(sim, body, chat)
    await _submit_delay(sim)
    await sim.runner.run_to_end(req)
    created = int(time.time())
    if chat:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": req.output_text, "tool_calls": []},
            "logprobs": None,
            "finish_reason": req.finish_reason,
            "stop_reason": None,
        }
        obj = "chat.completion"
    else:
        choice = {
            "index": 0,
            "text": req.output_text,
            "logprobs": None,
            "finish_reason": req.finish_reason,
            "stop_reason": None,
        }
        obj = "text_completion"
    return {
        "id": req.request_id,
        "object": obj,
        "created": created,
        "model": name,
        "choices": [choice],
        "usage": _usage(req),
    }


async def _generate(request: web.Request, chat: bool) -> web.StreamResponse:
    sim = _server(request)
    body = await _json_body(request)
    if body.get("stream"):
        name, req = _prepare_generation(sim, body, chat)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await _stream(request, sim, req, name, chat, include_usage)
    return web.json_response(await generation_response(sim, body, chat))


async def completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, chat=False)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, chat=True)


async def embedding_response(sim: SimServer, body: dict[str, Any]) -> dict[str, Any]:
    """The embeddings of `body`'s inputs, run through the engine; raises ApiError where vLLM answers an
    error."""
    name = _check_model(sim, body, "Embeddings", pooling=True)
    raw = body.get("input")
    inputs = (
        [raw] if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)) else raw
    )
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(400, "input must be a string or a non-empty list", param="input")
    texts = [_prompt_text(x) if not isinstance(x, str) else x for x in inputs]
    reqs = []
    for text in texts:
        ids = _check_length(sim, text, 0)
        reqs.append(
            Request(
                sim.next_id("embd"), text, 0, seed=0, block_size=sim.block_size, pooling=True, prompt_ids=ids
            )
        )
    await _submit_delay(sim)
    await asyncio.gather(*(sim.runner.run_to_end(r) for r in reqs))
    dims = body.get("dimensions") or sim.model.embedding_dim or sim.model.hidden_size
    b64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vec = embedding(text, dims)
        value: Any = base64.b64encode(array.array("f", vec).tobytes()).decode() if b64 else vec
        data.append({"index": i, "object": "embedding", "embedding": value})
    tokens = sum(r.prompt_len for r in reqs)
    return {
        "id": sim.next_id("embd"),
        "object": "list",
        "created": int(time.time()),
        "model": name,
        "data": data,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
    }


async def embeddings(request: web.Request) -> web.Response:
    sim = _server(request)
    return web.json_response(await embedding_response(sim, await _json_body(request)))


# -- service endpoints -----------------------------------------------------------------------------------
async def models(request: web.Request) -> web.Response:
    sim = _server(request)
    card = {
        "object": "model",
        "created": sim.created,
        "owned_by": "vllm",
        "max_model_len": sim.max_model_len,
        "permission": [],
    }
    data = [{**card, "id": n, "root": sim.model.name, "parent": None} for n in sim.served_names]
    data += [{**card, "id": n, "root": n, "parent": sim.served_names[0]} for n in sim.lora_names]
    return web.json_response({"object": "list", "data": data})


async def health(request: web.Request) -> web.Response:
    sim = _server(request)
    ok = sim.runner.alive and not sim.health_failed
    return web.Response(status=200 if ok else 503)


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": VLLM_VERSION})


async def metrics(request: web.Request) -> web.Response:
    body = _server(request).metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def load_lora_adapter(request: web.Request) -> web.Response:
    sim = _server(request)
    body = await _json_body(request)
    name, path = body.get("lora_name"), body.get("lora_path")
    if not name or not path:
        raise ApiError(400, "Both 'lora_name' and 'lora_path' must be provided.")
    if name in sim.lora_names:
        raise ApiError(400, f"The lora adapter '{name}' has already been loaded.", "InvalidUserInput")
    sim.lora_names.append(name)
    return web.Response(text=f"Success: LoRA adapter '{name}' added successfully.")


async def unload_lora_adapter(request: web.Request) -> web.Response:
    sim = _server(request)
    name = (await _json_body(request)).get("lora_name")
    if name not in sim.lora_names:
        raise ApiError(404, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
    sim.lora_names.remove(name)
    return web.Response(text=f"Success: LoRA adapter '{name}' removed successfully.")


def build_app(sim: SimServer, runtime_lora: bool = False) -> web.Application:
    """The server's routes; `runtime_lora` (VLLM_ALLOW_RUNTIME_LORA_UPDATING) adds adapter (un)loading."""
    app = web.Application(middlewares=[auth_middleware], client_max_size=64 * 1024**2)
    app[SIM_KEY] = sim
    app.router.add_get("/health", health)
    app.router.add_get("/ping", health)
    app.router.add_post("/ping", health)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    if runtime_lora:
        app.router.add_post("/v1/load_lora_adapter", load_lora_adapter)
        app.router.add_post("/v1/unload_lora_adapter", unload_lora_adapter)
    return app

"""One request through the `openai` async client: sent, timed and classified, retried when it may be."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import openai

from vllm_load.outcome import COMPLETE, RETRYABLE, RequestResult, classify
from vllm_load.spec import LoadSpec

# Between attempts: 0.5 s, doubling up to 8 s (the openai SDK's own retry backoff, without its jitter).
RETRY_BACKOFF_S, RETRY_BACKOFF_MAX_S = 0.5, 8.0


def _request_args(spec: LoadSpec, model: str, index: int) -> dict[str, Any]:
    prompt, max_tokens = spec.shape(index)
    args: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "stream": spec.stream}
    if spec.api == "chat":
        args["messages"] = [{"role": "user", "content": prompt}]
    else:
        args["prompt"] = prompt
    if spec.stream:
        args["stream_options"] = {"include_usage": True}
    if spec.ignore_eos:
        args["extra_body"] = {"ignore_eos": True}
    return args


def _text(chunk: Any, chat: bool) -> str:
    if not chunk.choices:
        return ""
    choice = chunk.choices[0]
    return (choice.delta.content or "") if chat else (choice.text or "")


async def _attempt(
    client: openai.AsyncOpenAI, spec: LoadSpec, model: str, result: RequestResult, t0: float
) -> None:
    """One attempt; fills in result, raising what the server or the connection raised."""
    chat = spec.api == "chat"
    endpoint = client.chat.completions if chat else client.completions
    args = _request_args(spec, model, result.index)
    if not spec.stream:
        answer = await endpoint.create(**args)
        result.finish_reason = answer.choices[0].finish_reason if answer.choices else None
        result.output_tokens = answer.usage.completion_tokens if answer.usage else 0
        if result.finish_reason not in COMPLETE:
            result.error, result.message = "aborted", f"finish_reason {result.finish_reason!r}"
        return
    stream = await endpoint.create(**args)
    last = None
    began = False
    try:
        async for chunk in stream:
            began = True
            if chunk.usage:
                result.output_tokens = chunk.usage.completion_tokens
            if chunk.choices and chunk.choices[0].finish_reason:
                result.finish_reason = chunk.choices[0].finish_reason
            if _text(chunk, chat):
                now = time.monotonic() - t0
                if last is None:
                    result.ttft_s = now - result.start_s
                else:
                    result.itl_s.append(now - last)
                last = now
    except Exception as exc:
        if began:
            raise _StreamBroken from exc
        raise
    finally:
        await stream.close()
    if result.finish_reason not in COMPLETE:
        result.error = "truncated_stream"
        result.message = f"the stream ended with finish_reason {result.finish_reason!r}"


class _StreamBroken(Exception):
    """A stream that raised after its first chunk."""


async def send(
    client: openai.AsyncOpenAI, spec: LoadSpec, model: str, index: int, t0: float
) -> RequestResult:
    """Send request `index` (retrying as the spec allows) and return its outcome; never raises."""
    result = RequestResult(index=index, start_s=time.monotonic() - t0)
    for attempt in range(1, spec.retries + 2):
        result.attempts = attempt
        result.error, result.message, result.status = None, "", None
        result.ttft_s, result.itl_s, result.finish_reason = None, [], None
        try:
            await asyncio.wait_for(_attempt(client, spec, model, result, t0), spec.timeout_s)
        except _StreamBroken as exc:
            cause = exc.__cause__ or exc
            result.error, _ = classify(cause, streaming_began=True)
            result.message = f"{type(cause).__name__}: {cause}"
        except Exception as exc:
            result.error, result.status = classify(exc)
            result.message = f"{type(exc).__name__}: {exc}"
        if result.error not in RETRYABLE or attempt > spec.retries:
            break
        await asyncio.sleep(min(RETRY_BACKOFF_S * 2 ** (attempt - 1), RETRY_BACKOFF_MAX_S))
    result.end_s = time.monotonic() - t0
    return result

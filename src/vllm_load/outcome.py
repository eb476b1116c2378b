"""One request's outcome, and the error class of a failure.

Error classes: `connection_refused` (no connection could be made), `connection_reset` (the connection broke
before a response began), `connect_timeout` (no connection within the connect timeout: the address answers
nothing, e.g. a pod IP on a node that has gone; the request never reached a server), `timeout`,
`http_<code>` (an error status, e.g. `http_503`), `truncated_stream` (a stream that broke off, or ended
without a stop/length finish: the server aborted it), `aborted` (a non-streamed answer the server
aborted), `other:<exception>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
import openai

RETRYABLE = frozenset(
    {"connection_refused", "connection_reset", "connect_timeout", "http_502", "http_503", "http_504"}
)
# Finish reasons of a complete generation (vLLM: stop, length; an aborted request finishes with "abort").
COMPLETE = frozenset({"stop", "length"})


@dataclass
class RequestResult:
    index: int
    start_s: float  # since the run began
    end_s: float = 0.0
    attempts: int = 0
    error: str | None = None  # None: ok
    message: str = ""
    status: int | None = None
    ttft_s: float | None = None  # streams only: time to the first generated text
    itl_s: list[float] = field(default_factory=list)  # streams only: gaps between generated chunks
    output_tokens: int = 0
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    @property
    def latency_s(self) -> float:
        return self.end_s - self.start_s


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: BaseException, *, streaming_began: bool = False) -> tuple[str, int | None]:
    """(error class, HTTP status) of a request that raised `exc`; streaming_began: a chunk had come."""
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}", exc.status_code
    chain = list(_chain(exc))
    if any(isinstance(e, httpx2.ConnectTimeout) for e in chain):
        return "connect_timeout", None
    if any(isinstance(e, openai.APITimeoutError | httpx2.TimeoutException | TimeoutError) for e in chain):
        return "timeout", None
    if streaming_began:
        return "truncated_stream", None
    if any(isinstance(e, httpx2.ConnectError | ConnectionRefusedError) for e in chain):
        return "connection_refused", None
    broken = (httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError, ConnectionError)
    if any(isinstance(e, broken) for e in chain):
        return "connection_reset", None
    if isinstance(exc, openai.APIConnectionError):
        return "connection_reset", None
    return f"other:{type(exc).__name__}", None

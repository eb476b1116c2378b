"""A connection that is never made (an address that answers nothing, as a pod IP on a node that has gone
does) fails as connect_timeout within --connect-timeout, not after the whole request timeout, and is
retried: the request never reached a server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx2
import pytest

from vllm_load.outcome import RETRYABLE, classify
from vllm_load.runner import run_load
from vllm_load.spec import LoadSpec


@pytest.fixture
def silent_address() -> Iterator[str]:
    """A listening socket whose accept queue is full and never drained: Linux drops further SYNs, so a new
    connection hangs as it does to a blackholed address."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    held = []
    for _ in range(8):  # fill the accept queue (backlog 0 holds one or two)
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        held.append(c)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for c in held:
            c.close()
        server.close()


def test_a_connection_never_made_is_a_retried_connect_timeout(silent_address: str) -> None:
    spec = LoadSpec(
        url=silent_address, model="m", stream=True, concurrency=1, requests=1, duration_s=5,
        timeout_s=20, connect_timeout_s=0.5, retries=1,
    )  # fmt: skip
    (result,) = run_load(spec).results
    assert result.error == "connect_timeout", result.message
    assert result.attempts == 2
    assert result.latency_s < 10, "gave up after the request timeout, not the connect timeout"


def test_connect_timeout_is_retryable_and_a_read_timeout_is_not() -> None:
    assert classify(httpx2.ConnectTimeout("no SYN-ACK")) == ("connect_timeout", None)
    assert classify(httpx2.ReadTimeout("no answer")) == ("timeout", None)
    assert "connect_timeout" in RETRYABLE and "timeout" not in RETRYABLE


def test_a_connect_timeout_that_is_not_positive_is_refused_naming_its_flag() -> None:
    with pytest.raises(ValueError, match="--connect-timeout"):
        LoadSpec(url="http://127.0.0.1:1", rate=1, connect_timeout_s=0)

"""What a load run does: the target, the request shape, the pacing and the bounds."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Api = Literal["completions", "chat"]
APIS: tuple[Api, ...] = ("completions", "chat")
Arrival = Literal["constant", "poisson"]
ARRIVALS: tuple[Arrival, ...] = ("constant", "poisson")


class SpecError(ValueError):
    """A load spec that cannot run; the message names the offending setting (its CLI flag)."""


@dataclass(frozen=True)
class LoadSpec:
    # -- target
    url: str  # the server's base URL (`http://host:8000`, or ending in /v1)
    model: str | None = None  # None: the first model the server lists
    api_key: str | None = None
    # -- request shape
    api: Api = "chat"
    stream: bool = True
    prompt: str = "Write a short story about a GPU cluster."
    max_tokens: int = 32
    ignore_eos: bool = False  # vLLM's extra parameter: always generate max_tokens (a steady request length)
    # A mix of (prompt, max_tokens) that request i takes as mix[i % len(mix)]; empty: every request sends
    # `prompt` with `max_tokens`.
    mix: tuple[tuple[str, int], ...] = ()
    # -- pacing: exactly one of rate (requests started per second) and concurrency (requests in flight)
    rate: float | None = None
    concurrency: int | None = None
    # with rate: start times at fixed intervals (constant) or exponential gaps (poisson, seeded), as real
    # traffic arrives, so queues form at random as they do in production
    arrival: Arrival = "constant"
    seed: int = 0
    # with rate: the rate rises (or falls) linearly from `rate` at the start to `ramp_to` at `duration_s`, a
    # gradual ramp of traffic as a day's peak builds (what an autoscaler must follow); None: constant
    ramp_to: float | None = None
    # -- bounds: no request starts after `requests` have started or `duration_s` has passed; each request
    # gives up after timeout_s; the run ends when the last request has finished or given up.
    requests: int = 100
    duration_s: float = 60.0
    timeout_s: float = 60.0
    # a connection not made within connect_timeout_s fails as connect_timeout (an address that answers
    # nothing: a pod IP on a node that has gone); the request never reached a server, so it is retryable
    connect_timeout_s: float = 5.0
    # -- client behaviour
    # attempts after the first, on retryable errors (connection refused/reset/connect timeout, 502/503/504),
    # 0.5 s apart
    # doubling up to 8 s as the openai SDK does (its default: 2)
    retries: int = 0
    keepalive: bool = (
        True  # reuse connections; False opens one per request (balanced per request by a Service)
    )

    def __post_init__(self) -> None:
        problems = []
        if not self.url.startswith(("http://", "https://")):
            problems.append(f"--url must be an http(s) URL, got {self.url!r}")
        if self.arrival not in ARRIVALS:
            problems.append(f"--arrival must be one of {', '.join(ARRIVALS)}, got {self.arrival!r}")
        if any(tokens < 1 for _, tokens in self.mix):
            problems.append("every max_tokens of the request mix must be at least 1")
        if self.api not in APIS:
            problems.append(f"--api must be one of {', '.join(APIS)}, got {self.api!r}")
        if (self.rate is None) == (self.concurrency is None):
            problems.append("set exactly one of --rate (requests per second) and --concurrency")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            problems.append(f"--rate must be a positive number of requests per second, got {self.rate!r}")
        if self.ramp_to is not None and self.rate is None:
            problems.append("--ramp-to needs --rate (the rate the ramp starts at)")
        if self.ramp_to is not None and not (math.isfinite(self.ramp_to) and self.ramp_to > 0):
            problems.append(f"--ramp-to must be a positive rate (requests per second), got {self.ramp_to!r}")
        if self.concurrency is not None and self.concurrency < 1:
            problems.append(f"--concurrency must be at least 1, got {self.concurrency!r}")
        checks = (
            (self.requests >= 1, f"--requests must be at least 1, got {self.requests!r}"),
            (self.duration_s > 0, f"--duration must be positive (seconds), got {self.duration_s!r}"),
            (self.timeout_s > 0, f"--timeout must be positive (seconds), got {self.timeout_s!r}"),
            (
                self.connect_timeout_s > 0,
                f"--connect-timeout must be positive (seconds), got {self.connect_timeout_s!r}",
            ),
            (self.max_tokens >= 1, f"--max-tokens must be at least 1, got {self.max_tokens!r}"),
            (self.retries >= 0, f"--retries must be 0 or more, got {self.retries!r}"),
        )
        problems += [message for ok, message in checks if not ok]
        if problems:
            raise SpecError("; ".join(problems))

    def shape(self, index: int) -> tuple[str, int]:
        """(prompt, max_tokens) of request `index`."""
        return self.mix[index % len(self.mix)] if self.mix else (self.prompt, self.max_tokens)

    def start_times(self) -> Iterator[float]:
        """Seconds from the start at which successive requests are due (with `rate`).

        Arrivals are drawn on the expected-count clock A(t) = integral of the rate up to t (request i at
        A = i for constant gaps, at a sum of unit exponential gaps for poisson) and mapped back to seconds:
        a constant rate r gives t = A / r; a linear ramp r(t) = r0 + k t gives
        t = (sqrt(r0^2 + 2 k A) - r0) / k.
        """
        assert self.rate is not None
        r0 = self.rate
        k = 0.0 if self.ramp_to is None else (self.ramp_to - r0) / self.duration_s
        rng, expected = random.Random(self.seed), 0.0
        for i in itertools.count():
            count = expected if self.arrival == "poisson" else float(i)
            if k == 0.0:
                yield count / r0
            else:
                root = r0 * r0 + 2.0 * k * count
                # a falling ramp's expected count peaks after duration_s: no arrival is due beyond it
                yield math.inf if root < 0 else (math.sqrt(root) - r0) / k
            expected += rng.expovariate(1.0)

    @property
    def base_url(self) -> str:
        """The OpenAI client's base URL: the server's URL with /v1."""
        url = self.url.rstrip("/")
        return url if url.endswith("/v1") else f"{url}/v1"

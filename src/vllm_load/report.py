"""The outcome of a load run: counts by outcome and error class, latency percentiles, the JSON report and
the one-line summary (`lost requests: N of M`)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from vllm_load.outcome import RequestResult
from vllm_load.spec import LoadSpec
from vllm_load.stats import summarize


@dataclass
class Report:
    spec: LoadSpec
    model: str
    started_at: float  # epoch seconds when the first request was due
    wall_s: float
    results: list[RequestResult]

    @property
    def sent(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def lost(self) -> int:
        """Requests that failed after every attempt the spec allows."""
        return self.sent - self.ok

    @property
    def retried(self) -> int:
        """Requests that needed more than one attempt (ok in the end or not)."""
        return sum(r.retried for r in self.results)

    @property
    def errors(self) -> dict[str, int]:
        return dict(Counter(r.error for r in self.results if r.error).most_common())

    def latencies(self) -> dict[str, dict[str, float] | None]:
        ok = [r for r in self.results if r.ok]
        return {
            "ttft_s": summarize([r.ttft_s for r in ok if r.ttft_s is not None]),
            "latency_s": summarize([r.latency_s for r in ok]),
            "itl_s": summarize([gap for r in ok for gap in r.itl_s]),
        }

    def summary(self) -> str:
        lat = self.latencies()
        parts = [f"lost requests: {self.lost} of {self.sent}", f"ok {self.ok}", f"retried {self.retried}"]
        if self.errors:
            parts.append("errors " + ", ".join(f"{k} {v}" for k, v in self.errors.items()))
        for key, label in (("ttft_s", "ttft"), ("latency_s", "latency"), ("itl_s", "itl")):
            s = lat[key]
            if s:
                parts.append(f"{label} p50 {s['p50'] * 1000:.0f} ms p99 {s['p99'] * 1000:.0f} ms")
        parts.append(f"in {self.wall_s:.1f} s")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        tokens = sum(r.output_tokens for r in self.results if r.ok)
        first_error = {}
        for r in self.results:
            if r.error and r.error not in first_error:
                first_error[r.error] = r.message
        return {
            "summary": self.summary(),
            "spec": {**asdict(self.spec), "api_key": "***" if self.spec.api_key else None},
            "model": self.model,
            "started_at": self.started_at,
            "wall_s": self.wall_s,
            "sent": self.sent,
            "ok": self.ok,
            "lost": self.lost,
            "retried": self.retried,
            "errors": self.errors,
            "error_examples": first_error,
            "throughput": {
                "requests_per_s": self.ok / self.wall_s if self.wall_s else 0.0,
                "output_tokens_per_s": tokens / self.wall_s if self.wall_s else 0.0,
            },
            **self.latencies(),
            "requests": [
                {
                    "index": r.index,
                    "start_s": round(r.start_s, 4),
                    "end_s": round(r.end_s, 4),
                    "ok": r.ok,
                    "error": r.error,
                    "status": r.status,
                    "attempts": r.attempts,
                    "ttft_s": None if r.ttft_s is None else round(r.ttft_s, 4),
                    "output_tokens": r.output_tokens,
                    "finish_reason": r.finish_reason,
                }
                for r in self.results
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

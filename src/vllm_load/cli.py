"""`vllm-load`: a bounded load run against an OpenAI-compatible server; prints the summary line
(`lost requests: N of M; ...`) and optionally writes the JSON report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from vllm_load.runner import run_load
from vllm_load.spec import APIS, ARRIVALS, LoadSpec, SpecError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vllm-load", description=__doc__)
    p.add_argument("--url", required=True, help="server base URL, e.g. http://vllm.default.svc:8000")
    p.add_argument("--model", help="model to request (default: the first one the server lists)")
    p.add_argument("--api-key", help="API key (Authorization: Bearer)")
    p.add_argument("--api", choices=APIS, default="chat", help="completions or chat (default: chat)")
    p.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True, help="stream (default)")
    p.add_argument("--prompt", default=LoadSpec.prompt)
    p.add_argument("--max-tokens", type=int, default=LoadSpec.max_tokens)
    p.add_argument("--ignore-eos", action="store_true", help="always generate --max-tokens (vLLM extra)")
    pace = p.add_mutually_exclusive_group(required=True)
    pace.add_argument("--rate", type=float, help="requests started per second (constant rate)")
    pace.add_argument("--concurrency", type=int, help="requests in flight (fixed concurrency)")
    p.add_argument(
        "--arrival",
        choices=ARRIVALS,
        default="constant",
        help="with --rate: constant gaps or poisson (seeded)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the poisson arrivals")
    p.add_argument(
        "--ramp-to",
        type=float,
        help="with --rate: rise (or fall) linearly from --rate to this rate over --duration (a gradual ramp)",
    )
    p.add_argument("--requests", type=int, default=LoadSpec.requests, help="at most this many requests")
    p.add_argument("--duration", type=float, default=LoadSpec.duration_s, help="start none after this (s)")
    p.add_argument("--timeout", type=float, default=LoadSpec.timeout_s, help="per-request timeout (s)")
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=LoadSpec.connect_timeout_s,
        help="give up a connection not made in this long (s): connect_timeout, retryable",
    )
    p.add_argument("--retries", type=int, default=0, help="retries of connection errors and 502/503/504")
    p.add_argument(
        "--keepalive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reuse connections (default); --no-keepalive opens one per request",
    )
    p.add_argument("--json", type=Path, help="write the JSON report here")
    p.add_argument("--progress", type=float, default=0.0, help="print progress to stderr every N s")
    p.add_argument("--max-lost", type=int, help="exit 1 when more requests than this are lost")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        spec = LoadSpec(
            url=args.url,
            model=args.model,
            api_key=args.api_key,
            api=args.api,
            stream=args.stream,
            prompt=args.prompt,
            max_tokens=args.max_tokens,
            ignore_eos=args.ignore_eos,
            rate=args.rate,
            concurrency=args.concurrency,
            arrival=args.arrival,
            seed=args.seed,
            ramp_to=args.ramp_to,
            requests=args.requests,
            duration_s=args.duration,
            timeout_s=args.timeout,
            connect_timeout_s=args.connect_timeout,
            retries=args.retries,
            keepalive=args.keepalive,
        )
    except SpecError as err:
        print(f"vllm-load: error: {err}", file=sys.stderr)
        return 2
    try:
        report = run_load(spec, progress_s=args.progress)
    except RuntimeError as err:
        print(f"vllm-load: error: {err}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(report.to_json())
    print(report.summary(), flush=True)
    if args.max_lost is not None and report.lost > args.max_lost:
        return 1
    return 0

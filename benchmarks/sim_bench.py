"""What one vllm-sim process sustains on one CPU core: concurrent streams, streamed tokens/s, added latency.

The simulator runs pinned to one core (taskset); a load generator in a separate process (aiohttp, pinned
to another core when there is one) keeps N streaming completions open in a closed loop for a fixed
window. Figures:
  - concurrent streams: the most streams open at once (and the engine's max running sequences);
  - streamed tokens/s: generated tokens received by the clients during the window;
  - p99 added latency: the simulator's own lag, i.e. how late steps were delivered against the timing
    model's schedule (from /sim/stats), plus the client-side TTFT for context.
The time scale is derived so that the timing model asks for --offered tokens/s (default 25,000) across
all streams: if the simulator keeps up, it streams that rate with little added latency.
Ratios are printed against benchmarks/baseline/sim.json (written with --write-baseline). Nothing is
asserted: the target (>= 1000 streams, >= 20,000 tokens/s) is reported as met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from vllm_sim.launch import free_port

BASELINE = Path(__file__).parent / "baseline" / "sim.json"
MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
TEXT_RE = re.compile(rb'"text":"([^"]*)"')
TARGET = {"concurrent_streams": 1000, "tokens_per_s": 20000}


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


async def _client(url: str, streams: int, duration: float, max_tokens: int, out: dict) -> None:
    import aiohttp

    tokens = 0
    open_now = max_open = 0
    ttfts: list[float] = []
    counting = False
    stop_at = time.monotonic() + duration
    body = {
        "model": MODEL,
        "prompt": "benchmark prompt " * 16,
        "max_tokens": max_tokens,
        "stream": True,
        "ignore_eos": True,
    }
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=None)) as session:

        async def one_stream() -> None:
            nonlocal tokens, open_now, max_open
            while time.monotonic() < stop_at:
                started = time.monotonic()
                first = True
                open_now += 1
                max_open = max(max_open, open_now)
                try:
                    async with session.post(f"{url}/v1/completions", json=body) as resp:
                        async for data in resp.content.iter_any():
                            n = sum(len(m) for m in TEXT_RE.findall(data)) // 4
                            if n and first:
                                ttfts.append(time.monotonic() - started)
                                first = False
                            if counting:
                                tokens += n
                            if time.monotonic() >= stop_at:
                                break
                finally:
                    open_now -= 1

        tasks = [asyncio.create_task(one_stream()) for _ in range(streams)]
        await asyncio.sleep(min(3.0, duration / 4))  # ramp-up: every stream open and decoding
        counting, window_start = True, time.monotonic()
        start_tokens = tokens
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        window = time.monotonic() - window_start
        measured = tokens - start_tokens
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ttfts.sort()
    out.update(
        tokens=measured,
        window_s=window,
        max_open_streams=max_open,
        ttft_p50_s=statistics.median(ttfts) if ttfts else None,
        ttft_p99_s=ttfts[int(len(ttfts) * 0.99)] if ttfts else None,
    )


def _client_process(url: str, streams: int, duration: float, max_tokens: int, queue: mp.Queue) -> None:
    out: dict = {}
    try:
        import uvloop

        uvloop.run(_client(url, streams, duration, max_tokens, out))
    except ImportError:
        asyncio.run(_client(url, streams, duration, max_tokens, out))
    queue.put(out)


def offered_time_scale(gpu: str, streams: int, tokens_per_s: float, context: int) -> float:
    """The VLLM_SIM_TIME_SCALE at which `streams` decoding sequences ask for `tokens_per_s` in total."""
    from vllm_model.catalog import get_gpu, resolve_model
    from vllm_model.memory import plan_memory
    from vllm_model.timing import TimingModel

    spec, card = resolve_model(MODEL), get_gpu(gpu)
    timing = TimingModel.build(spec, card, plan_memory(spec, card, max_model_len=4096))
    step = timing.step_seconds(streams, streams * context, streams * context, streams)
    return streams / tokens_per_s / step


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def run(args: argparse.Namespace) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if args.time_scale is None:
        args.time_scale = round(
            offered_time_scale(args.gpu, args.streams, args.offered, 64 + args.max_tokens // 2), 4
        )
    env = {
        **os.environ,
        "VLLM_SIM_GPU": args.gpu,
        "VLLM_SIM_TIME_SCALE": str(args.time_scale),
        "VLLM_SIM_CONTROL": "1",
    }
    cmd = [
        *_pin(0),
        sys.executable,
        "-m",
        "vllm_sim",
        "serve",
        MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        "4096",
        "--max-num-seqs",
        str(max(args.streams, 256)),
        "--max-num-batched-tokens",
        "16384",
    ]
    sim = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _get(f"{url}/health")
                break
            except OSError:
                if sim.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"simulator did not start: {sim.stderr.read().decode()}") from None
                time.sleep(0.1)
        queue: mp.Queue = mp.Queue()
        cores = os.cpu_count() or 1
        client = mp.Process(
            target=_client_process, args=(url, args.streams, args.duration, args.max_tokens, queue)
        )
        client.start()
        if cores > 1 and shutil.which("taskset"):
            subprocess.run(["taskset", "-p", "-c", "1", str(client.pid)], capture_output=True, check=False)
        result = queue.get(timeout=args.duration + 60)
        client.join(10)
        stats = json.loads(_get(f"{url}/sim/stats"))
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
    return {
        "concurrent_streams": result["max_open_streams"],
        "engine_max_running": stats["max_running_seen"],
        "tokens_per_s": round(result["tokens"] / result["window_s"]),
        "p99_added_latency_s": round(stats["lag"]["p99_s"], 4),
        "p50_added_latency_s": round(stats["lag"]["p50_s"], 4),
        "ttft_p50_s": result["ttft_p50_s"] and round(result["ttft_p50_s"], 4),
        "ttft_p99_s": result["ttft_p99_s"] and round(result["ttft_p99_s"], 4),
        "engine_steps": stats["steps"],
        "config": {
            "streams": args.streams,
            "gpu": args.gpu,
            "time_scale": args.time_scale,
            "offered": args.offered,
            "max_tokens": args.max_tokens,
            "window_s": round(result["window_s"], 2),
            "cpu_cores": os.cpu_count(),
        },
    }


def report(figures: dict, baseline: dict | None) -> None:
    rows = [
        ("concurrent streams", "concurrent_streams", ""),
        ("engine max running", "engine_max_running", ""),
        ("streamed tokens/s", "tokens_per_s", ""),
        ("p99 added latency", "p99_added_latency_s", "s"),
        ("p50 added latency", "p50_added_latency_s", "s"),
        ("client TTFT p50", "ttft_p50_s", "s"),
        ("client TTFT p99", "ttft_p99_s", "s"),
    ]
    print(f"{'figure':<22}{'measured':>14}{'baseline':>14}{'ratio':>8}")
    for label, key, unit in rows:
        now, base = figures.get(key), (baseline or {}).get(key)
        ratio = f"{now / base:.2f}" if isinstance(now, int | float) and base else "-"
        print(
            f"{label:<22}{str(now) + unit:>14}{str(base) + unit if base is not None else '-':>14}{ratio:>8}"
        )
    met = all(figures[k] >= v for k, v in TARGET.items())
    print(
        f"target (>= {TARGET['concurrent_streams']} streams, >= {TARGET['tokens_per_s']} tokens/s): "
        f"{'met' if met else 'NOT met'}; config {json.dumps(figures['config'])}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (ramp-up included)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--gpu", default="L4")
    parser.add_argument(
        "--offered",
        type=float,
        default=25000,
        help="tokens/s the timing model asks for across all streams (sets the time scale)",
    )
    parser.add_argument("--time-scale", type=float, default=None, help="override the derived time scale")
    parser.add_argument("--write-baseline", action="store_true")
    args = parser.parse_args()
    figures = run(args)
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else None
    report(figures, baseline)
    if args.write_baseline:
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        BASELINE.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"baseline written to {BASELINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

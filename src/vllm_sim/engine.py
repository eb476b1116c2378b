"""The engine core: a paged KV block pool, a V1-style scheduler, and the step loop's bookkeeping.

Time is passed in, never read: `schedule()` plans a step and says how long it takes (model seconds),
`complete(step, now)` applies its results at time `now`. A test drives it with a virtual clock
(`run_until_idle`), the server with the wall clock (vllm_sim.runner). Like vLLM V1, every step mixes
prefill chunks and decodes under one token budget (max-num-batched-tokens) and one sequence cap
(max-num-seqs); a request that cannot get a KV block preempts the newest running request, which is
recomputed later; prefix caching reuses full blocks whose chained hash matches.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from vllm_model.memory import MemoryPlan
from vllm_model.timing import TimingModel
from vllm_sim.tokens import CHARS_PER_TOKEN, Sampler, block_hashes, count_tokens

WAITING, RUNNING, FINISHED = 0, 1, 2


class BlockPool:
    """Fixed pool of KV blocks with reference counts and an LRU of evictable cached blocks."""

    def __init__(self, num_blocks: int, enable_caching: bool) -> None:
        self.num_blocks = num_blocks
        self.enable_caching = enable_caching
        self._fresh = 0  # blocks [_fresh, num_blocks) were never used: no list of 10^6 ints up front
        self._free: OrderedDict[int, None] = OrderedDict()  # freed blocks, least recently used first
        self._ref: dict[int, int] = {}
        self._hash_of: dict[int, int] = {}
        self._by_hash: dict[int, int] = {}

    @property
    def num_free(self) -> int:
        return self.num_blocks - self._fresh + len(self._free)

    def usage(self) -> float:
        """vLLM's kv_cache_usage_perc: 1 - free/total, cached-but-unreferenced blocks counting as free."""
        return 1.0 - self.num_free / self.num_blocks if self.num_blocks else 0.0

    def lookup(self, hashes: Iterable[int]) -> list[int]:
        """Blocks holding the longest cached prefix of these hashes."""
        hits: list[int] = []
        if self.enable_caching:
            for h in hashes:
                block = self._by_hash.get(h)
                if block is None:
                    break
                hits.append(block)
        return hits

    def touch(self, blocks: list[int]) -> None:
        for b in blocks:
            if self._ref.get(b, 0) == 0:
                self._free.pop(b, None)
            self._ref[b] = self._ref.get(b, 0) + 1

    def allocate(self, n: int) -> list[int]:
        """n blocks (caller checked num_free): never-used ones first, then evict the LRU free block."""
        out: list[int] = []
        for _ in range(n):
            if self._fresh < self.num_blocks:
                b = self._fresh
                self._fresh += 1
            else:
                b, _ = self._free.popitem(last=False)
                h = self._hash_of.pop(b, None)
                if h is not None and self._by_hash.get(h) == b:
                    del self._by_hash[h]
            self._ref[b] = 1
            out.append(b)
        return out

    def free(self, blocks: list[int]) -> None:
        # Tail first, so a prompt's leading blocks (the most shareable) are evicted last.
        for b in reversed(blocks):
            ref = self._ref[b] - 1
            if ref:
                self._ref[b] = ref
                continue
            del self._ref[b]
            self._free[b] = None
            if b not in self._hash_of:
                self._free.move_to_end(b, last=False)  # nothing worth keeping: reuse it first

    def cache(self, block: int, block_hash: int) -> None:
        if self.enable_caching and block_hash not in self._by_hash:
            self._by_hash[block_hash] = block
            self._hash_of[block] = block_hash


class Request:
    """One generation (or pooling) request as the engine sees it."""

    __slots__ = (
        "arrival",
        "blocks",
        "cached_blocks",
        "finish_reason",
        "finished_at",
        "first_scheduled",
        "first_token_at",
        "hashes",
        "ignore_eos",
        "last_token_at",
        "max_tokens",
        "num_cached_tokens",
        "num_computed",
        "output",
        "pooling",
        "prompt",
        "prompt_len",
        "request_id",
        "sampler",
        "status",
        "stop",
        "text",
    )

    def __init__(
        self,
        request_id: str,
        prompt: str,
        max_tokens: int,
        *,
        seed: int,
        block_size: int = 16,
        stop: tuple[str, ...] = (),
        ignore_eos: bool = False,
        pooling: bool = False,
        arrival: float = 0.0,
    ) -> None:
        self.request_id = request_id
        self.prompt = prompt
        self.prompt_len = max(1, count_tokens(prompt))
        self.hashes = block_hashes(prompt, block_size)
        self.max_tokens = max_tokens
        self.stop = stop
        self.ignore_eos = ignore_eos
        self.pooling = pooling
        self.sampler = None if pooling else Sampler(seed)
        self.output: list[str] = []
        self.text: str | None = None  # final text when a stop string cut it short
        self.num_computed = 0
        self.num_cached_tokens = 0
        self.cached_blocks = 0  # how many leading prompt blocks are registered in the prefix cache
        self.blocks: list[int] = []
        self.status = WAITING
        self.finish_reason: str | None = None
        self.arrival = arrival
        self.first_scheduled: float | None = None
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        self.finished_at: float | None = None

    @property
    def num_tokens(self) -> int:
        return self.prompt_len + len(self.output)

    @property
    def output_text(self) -> str:
        return self.text if self.text is not None else "".join(self.output)


class Observer(Protocol):
    """What the metrics layer hears from the engine (all times in the caller's clock)."""

    def on_step(self, prompt_tokens: int, generation_tokens: int, preemptions: int) -> None: ...
    def on_prefix_lookup(self, queries: int, hits: int) -> None: ...
    def on_token(self, req: Request, now: float) -> None: ...
    def on_finish(self, req: Request) -> None: ...


@dataclass
class EngineConfig:
    num_blocks: int
    block_size: int
    max_num_seqs: int
    max_num_batched_tokens: int
    max_model_len: int
    timing: TimingModel
    enable_prefix_caching: bool = True
    enable_chunked_prefill: bool = True
    needs_kv: bool = True  # False for encoder-only models
    static_batching: bool = False  # fidelity baseline: admit a batch only when the last one is done

    @classmethod
    def from_plan(cls, plan: MemoryPlan, timing: TimingModel, **overrides: Any) -> EngineConfig:
        """The engine vLLM would run for this memory plan (overrides: any other field)."""
        fields: dict[str, Any] = {
            "num_blocks": plan.num_blocks,
            "block_size": plan.block_size,
            "max_num_seqs": plan.max_num_seqs,
            "max_num_batched_tokens": plan.max_num_batched_tokens,
            "max_model_len": plan.max_model_len,
            "timing": timing,
            "needs_kv": plan.kv_bytes_per_token > 0,
        }
        return cls(**{**fields, **overrides})


@dataclass
class Step:
    scheduled: list[tuple[Request, int]]
    duration: float
    preempted: int = 0


@dataclass
class Engine:
    config: EngineConfig
    observer: Observer | None = None
    waiting: deque[Request] = field(default_factory=deque)
    running: list[Request] = field(default_factory=list)
    num_preemptions: int = 0
    prefix_queries: int = 0
    prefix_hits: int = 0
    max_running_seen: int = 0
    prompt_tokens_total: int = 0
    generation_tokens_total: int = 0

    def __post_init__(self) -> None:
        blocks = self.config.num_blocks if self.config.needs_kv else 0
        self.pool = BlockPool(blocks, self.config.enable_prefix_caching)
        self._batch_open = True
        self._by_id: dict[str, Request] = {}

    # -- intake -----------------------------------------------------------------------------------
    def add_request(self, req: Request, now: float) -> None:
        req.arrival = now
        self.waiting.append(req)
        self._by_id[req.request_id] = req

    def abort(self, request_id: str, now: float) -> Request | None:
        req = self._by_id.get(request_id)
        if req is None or req.status == FINISHED:
            return None
        if req.status == WAITING:
            self.waiting.remove(req)
        else:
            self.running.remove(req)
        self._finish(req, "abort", now)
        return req

    def abort_all(self, now: float) -> list[Request]:
        return [r for r in [*self.running, *self.waiting] if self.abort(r.request_id, now)]

    def has_work(self) -> bool:
        return bool(self.running or self.waiting)

    def kv_usage(self) -> float:
        return self.pool.usage()

    # -- scheduling -------------------------------------------------------------------------------
    def _blocks_needed(self, req: Request, n: int) -> int:
        if not self.config.needs_kv:
            return 0
        return math.ceil((req.num_computed + n) / self.config.block_size) - len(req.blocks)

    def _preempt(self, req: Request) -> None:
        self.pool.free(req.blocks)
        req.blocks = []
        req.num_computed = 0
        req.cached_blocks = 0
        req.status = WAITING
        self.waiting.appendleft(req)
        self.num_preemptions += 1

    def schedule(self) -> Step | None:
        cfg = self.config
        budget = cfg.max_num_batched_tokens
        scheduled: list[tuple[Request, int]] = []
        preempted = 0
        i = 0
        while i < len(self.running) and budget > 0:
            req = self.running[i]
            need = req.num_tokens - req.num_computed
            if not cfg.enable_chunked_prefill and need > budget:
                i += 1
                continue
            n = min(need, budget)
            blocks = self._blocks_needed(req, n)
            while blocks > self.pool.num_free:
                victim = self.running.pop()
                self._preempt(victim)
                preempted += 1
                if victim is req:
                    break
            if req.status != RUNNING:
                break
            if blocks > 0:
                req.blocks.extend(self.pool.allocate(blocks))
            scheduled.append((req, n))
            budget -= n
            i += 1
        if cfg.static_batching and not self.running:
            self._batch_open = True
        admit = not preempted and (not cfg.static_batching or self._batch_open)
        while admit and self.waiting and budget > 0 and len(self.running) < cfg.max_num_seqs:
            req = self.waiting[0]
            hits = self.pool.lookup(req.hashes) if req.num_computed == 0 else []
            num_cached = len(hits) * cfg.block_size
            if num_cached >= req.num_tokens:  # at least one token must run to produce logits
                hits.pop()
                num_cached -= cfg.block_size
            need = req.num_tokens - num_cached
            if not cfg.enable_chunked_prefill and need > budget:
                break
            n = min(need, budget)
            blocks = math.ceil((num_cached + n) / cfg.block_size) - len(hits) if cfg.needs_kv else 0
            reusable_free = sum(1 for b in hits if self.pool._ref.get(b, 0) == 0)
            if blocks > self.pool.num_free - reusable_free:
                break
            self.waiting.popleft()
            self.pool.touch(hits)
            req.blocks = hits + self.pool.allocate(blocks)
            req.num_computed = num_cached
            req.cached_blocks = len(hits)
            req.num_cached_tokens = max(req.num_cached_tokens, num_cached)
            req.status = RUNNING
            self.running.append(req)
            self.prefix_queries += req.num_tokens
            self.prefix_hits += num_cached
            if self.observer:
                self.observer.on_prefix_lookup(req.num_tokens, num_cached)
            scheduled.append((req, n))
            budget -= n
        if cfg.static_batching and len(self.running) >= cfg.max_num_seqs:
            self._batch_open = False
        self.max_running_seen = max(self.max_running_seen, len(self.running))
        if not scheduled:
            if preempted and self.observer:
                self.observer.on_step(0, 0, preempted)
            return None
        new_tokens = pairs = kv_read = 0
        for req, n in scheduled:
            new_tokens += n
            pairs += n * (req.num_computed + (n + 1) // 2)
            kv_read += req.num_computed + n
        duration = cfg.timing.step_seconds(new_tokens, pairs, kv_read, len(scheduled))
        return Step(scheduled, duration, preempted)

    # -- results ----------------------------------------------------------------------------------
    def _finish(self, req: Request, reason: str, now: float) -> None:
        req.status = FINISHED
        req.finish_reason = reason
        req.finished_at = now
        self.pool.free(req.blocks)
        req.blocks = []
        self._by_id.pop(req.request_id, None)
        if self.observer:
            self.observer.on_finish(req)

    def _register_prefix(self, req: Request) -> None:
        full = min(len(req.hashes), req.num_computed // self.config.block_size)
        for idx in range(req.cached_blocks, full):
            self.pool.cache(req.blocks[idx], req.hashes[idx])
        req.cached_blocks = max(req.cached_blocks, full)

    def complete(self, step: Step, now: float) -> list[Request]:
        """Apply a step's results at time `now`; return the requests with new output or a finish."""
        updated: list[Request] = []
        prompt_tokens = generated = 0
        any_finished = False
        for req, n in step.scheduled:
            if req.status != RUNNING:  # aborted while the step ran
                continue
            if req.first_scheduled is None:
                req.first_scheduled = now - step.duration
            req.num_computed += n
            if self.config.needs_kv and req.cached_blocks < len(req.hashes):
                self._register_prefix(req)
            if req.num_computed < req.num_tokens:
                continue  # a prefill chunk; more to come
            if not req.output:
                prompt_tokens += req.prompt_len
            updated.append(req)
            sampler = req.sampler
            if sampler is None:  # a pooling request: embedded in one step, nothing sampled
                self._finish(req, "stop", now)
                any_finished = True
                continue
            req.output.append(sampler.next_piece())
            generated += 1
            if req.first_token_at is None:
                req.first_token_at = now
            if self.observer:
                self.observer.on_token(req, now)
            req.last_token_at = now
            reason = self._finish_reason(req, sampler)
            if reason:
                self._finish(req, reason, now)
                any_finished = True
        if any_finished:
            self.running = [r for r in self.running if r.status == RUNNING]
        if self._batch_open and self.config.static_batching and generated:
            self._batch_open = False
        self.prompt_tokens_total += prompt_tokens
        self.generation_tokens_total += generated
        if self.observer:
            self.observer.on_step(prompt_tokens, generated, step.preempted)
        return updated

    def _finish_reason(self, req: Request, sampler: Sampler) -> str | None:
        if req.stop:
            # Only the tail can hold a new match: a stop string spans at most this many pieces.
            span = max(map(len, req.stop)) // CHARS_PER_TOKEN + 2
            tail = "".join(req.output[-span:])
            if any(s in tail for s in req.stop):
                text = "".join(req.output)
                req.text = text[: min(i for i in (text.find(s) for s in req.stop) if i >= 0)]
                return "stop"
        if len(req.output) >= req.max_tokens:
            return "length"
        if not req.ignore_eos and len(req.output) >= sampler.natural_length:
            return "stop"
        if req.num_tokens >= self.config.max_model_len:
            return "length"
        return None

    def run_until_idle(self, now: float = 0.0, max_steps: int = 10_000_000) -> float:
        """Virtual-clock driver: step until no work is left; returns the final time."""
        for _ in range(max_steps):
            step = self.schedule()
            if step is None:
                if not self.has_work():
                    return now
                raise RuntimeError("engine stalled: waiting requests can never be scheduled")
            now += step.duration
            self.complete(step, now)
        raise RuntimeError("engine did not go idle")

"""The engine core: a paged KV block pool, a V1-style scheduler, and the step loop's bookkeeping.

Time is passed in, never read: `schedule()` plans a step and says how long it takes (model seconds),
`complete(step, now)` applies its results at time `now`. A test drives it with a virtual clock
(`run_until_idle`), the server with the wall clock (vllm_sim.runner). Like vLLM V1, every step mixes
prefill chunks and decodes under one token budget (max-num-batched-tokens) and one sequence cap
(max-num-seqs); a request that cannot get a KV block preempts the newest running request, which is
recomputed later; prefix caching reuses full blocks whose chained hash matches. Scheduling is
asynchronous, as in vLLM's V1 engine: the next step is planned while the current one runs, so a request
that arrives while the engine is busy is first scheduled one step later than it would be when idle.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from vllm_model.memory import MemoryPlan
from vllm_model.timing import TimingModel
from vllm_sim.tokens import CHARS_PER_TOKEN, Sampler, block_hashes, count_tokens, token_block_hashes

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
        "length_limit",
        "max_tokens",
        "num_cached_tokens",
        "num_computed",
        "num_tokens",
        "output",
        "pooling",
        "prompt",
        "prompt_len",
        "request_id",
        "sampler",
        "status",
        "stop",
        "text",
        "visible_at",
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
        prompt_ids: Sequence[int] | None = None,
    ) -> None:
        self.request_id = request_id
        self.prompt = prompt
        # A real tokenizer's ids where the model has one (vllm_sim.tokenizer), else the approximation.
        if prompt_ids is None:
            self.prompt_len = max(1, count_tokens(prompt))
            self.hashes = block_hashes(prompt, block_size)
        else:
            self.prompt_len = len(prompt_ids)
            self.hashes = token_block_hashes(prompt_ids, block_size)
        self.max_tokens = max_tokens
        self.stop = stop
        self.ignore_eos = ignore_eos
        self.pooling = pooling
        self.sampler = None if pooling else Sampler(seed)
        # Output tokens after which the request stops by length or by its natural end (EOS).
        natural = max_tokens if ignore_eos or self.sampler is None else self.sampler.natural_length
        self.length_limit = min(max_tokens, natural)
        self.output: list[str] = []
        self.num_tokens = self.prompt_len  # prompt + output tokens, kept as output grows
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
        self.visible_at = 0  # the first scheduler call that may admit it (async scheduling)

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
    async_scheduling: bool = True  # vLLM V1's default: plan step k+1 while step k runs

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
        self._schedule_calls = 0

    # -- intake -----------------------------------------------------------------------------------
    def add_request(self, req: Request, now: float) -> None:
        req.arrival = now
        # While a step runs, the scheduler has already planned the next one: the request can join the one
        # after it. An idle engine schedules it at once.
        busy = self.config.async_scheduling and bool(self.running)
        req.visible_at = self._schedule_calls + (2 if busy else 1)
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
        self._schedule_calls += 1
        budget = cfg.max_num_batched_tokens
        scheduled: list[tuple[Request, int]] = []
        preempted = 0
        # The step's totals for the timing model, summed as requests are scheduled (hot loop: locals).
        new_tokens = pairs = kv_read = 0
        pool, running, bs = self.pool, self.running, cfg.block_size
        needs_kv, chunked = cfg.needs_kv, cfg.enable_chunked_prefill
        free = pool.num_free
        i = 0
        while i < len(running) and budget > 0:
            req = running[i]
            computed = req.num_computed
            need = req.num_tokens - computed
            if need > budget:
                if not chunked:
                    i += 1
                    continue
                need = budget
            if needs_kv:
                blocks = (computed + need + bs - 1) // bs - len(req.blocks)
                if blocks > 0:
                    while blocks > free:
                        victim = running.pop()
                        self._preempt(victim)
                        preempted += 1
                        free = pool.num_free
                        if victim is req:
                            break
                    if req.status != RUNNING:
                        break
                    req.blocks.extend(pool.allocate(blocks))
                    free -= blocks
            scheduled.append((req, need))
            budget -= need
            new_tokens += need
            pairs += need * (computed + (need + 1) // 2)
            kv_read += computed + need
            i += 1
        if cfg.static_batching and not self.running:
            self._batch_open = True
        admit = not preempted and (not cfg.static_batching or self._batch_open)
        if admit and not scheduled:
            # Nothing runs, so nothing was planned ahead: the engine is idle and takes the queue at once.
            for req in self.waiting:
                req.visible_at = min(req.visible_at, self._schedule_calls)
        while admit and self.waiting and budget > 0 and len(self.running) < cfg.max_num_seqs:
            req = self.waiting[0]
            if req.visible_at > self._schedule_calls:
                break
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
            new_tokens += n
            pairs += n * (num_cached + (n + 1) // 2)
            kv_read += num_cached + n
        if cfg.static_batching and len(self.running) >= cfg.max_num_seqs:
            self._batch_open = False
        self.max_running_seen = max(self.max_running_seen, len(self.running))
        if not scheduled:
            if preempted and self.observer:
                self.observer.on_step(0, 0, preempted)
            return None
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
        needs_kv, observer = self.config.needs_kv, self.observer
        max_model_len = self.config.max_model_len
        for req, n in step.scheduled:
            if req.status != RUNNING:  # aborted while the step ran
                continue
            if req.first_scheduled is None:
                req.first_scheduled = now - step.duration
            computed = req.num_computed = req.num_computed + n
            if needs_kv and req.cached_blocks < len(req.hashes):
                self._register_prefix(req)
            if computed < req.num_tokens:
                continue  # a prefill chunk; more to come
            output = req.output
            first = not output
            if first:
                prompt_tokens += req.prompt_len
            updated.append(req)
            sampler = req.sampler
            if sampler is None:  # a pooling request: embedded in one step, nothing sampled
                self._finish(req, "stop", now)
                any_finished = True
                continue
            if first:
                req.first_token_at = now
            output.append(sampler.next_piece())
            req.num_tokens += 1
            generated += 1
            if observer:
                observer.on_token(req, now)
            req.last_token_at = now
            if req.stop or len(output) >= req.length_limit or req.num_tokens >= max_model_len:
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

    def run_decodes(
        self, now: float, until: float, held: Callable[[float, float, int], None] | None = None
    ) -> tuple[float, int] | None:
        """Run pure-decode steps back to back from `now`, each starting before `until`, in one pass.

        The result is what schedule()/complete() would give step by step (same step times, token counts,
        finish times, block allocations and frees in the same order), without touching every sequence
        every step: replay's fast path between arrivals. It applies only while nothing waits, every
        running sequence decodes one token, no observer wants each token and no stop string needs the
        text; otherwise, or when a step would have to preempt, it leaves the step to schedule().
        Returns (time the last step ended, steps run), or None when it ran no step. `held(start, seconds,
        running)` is called for each step once its blocks are allocated (what replay observes of a step).
        """
        cfg, running, pool = self.config, self.running, self.pool
        # Steps while every waiting request is still invisible to the scheduler (async scheduling) are
        # pure decode steps too: the stretch ends before the call that may admit the first of them.
        last_call = min((r.visible_at for r in self.waiting), default=math.inf) - 1
        if (
            last_call <= self._schedule_calls
            or not running
            or self.observer is not None
            or cfg.static_batching
            or not cfg.needs_kv
            or len(running) > cfg.max_num_batched_tokens
        ):
            return None
        bs, mml = cfg.block_size, cfg.max_model_len
        # No step is shorter than the fixed overhead: at most this many fit before `until`.
        shortest = cfg.timing.min_step_seconds
        horizon = min(
            last_call - self._schedule_calls, (until - now) / shortest + 1 if shortest else math.inf
        )
        finishing: dict[int, list[int]] = {}  # step index -> running indices whose last token it makes
        allocs: list[tuple[int, int]] = []  # (step index, running index): the step needs a new block
        total = 0
        for idx, req in enumerate(running):
            computed = req.num_computed
            if req.stop or req.pooling or req.num_tokens - computed != 1:
                return None
            rem = min(req.length_limit - len(req.output), mml - req.num_tokens)
            if rem <= horizon:
                finishing.setdefault(rem - 1, []).append(idx)
            first_alloc = len(req.blocks) * bs - computed
            if first_alloc < rem and first_alloc < horizon:
                allocs.append((first_alloc, idx))
            total += computed + 1
        heapq.heapify(allocs)
        n, t, j = len(running), now, 0
        step_seconds = cfg.timing.step_seconds
        while n and t < until and self._schedule_calls < last_call:
            needed = []
            while allocs and allocs[0][0] == j:
                needed.append(heapq.heappop(allocs)[1])
            if len(needed) > pool.num_free:  # this step preempts: schedule() handles it
                for idx in needed:
                    heapq.heappush(allocs, (j, idx))
                break
            for idx in needed:
                req = running[idx]
                req.blocks.extend(pool.allocate(1))
                nxt = j + bs
                if nxt < horizon and nxt < min(req.length_limit - len(req.output), mml - req.num_tokens):
                    heapq.heappush(allocs, (nxt, idx))
            seconds = step_seconds(n, total, total, n)
            if held is not None:
                held(t, seconds, n)
            t += seconds
            self._schedule_calls += 1
            leaving = finishing.get(j, ())
            for idx in leaving:  # in running order, as complete() frees them
                req = running[idx]
                total -= req.num_computed + j + 1
                self._finish(req, self._finish_reason(req, self._advance(req, j + 1, t)) or "length", t)
            n -= len(leaving)
            total += n
            j += 1
        if not j:
            return None
        for req in running:
            if req.status == RUNNING:
                self._advance(req, j, t)
        self.running = [r for r in running if r.status == RUNNING]
        return t, j

    def _advance(self, req: Request, tokens: int, now: float) -> Sampler:
        """Give a decoding request `tokens` more output tokens, the last one at `now`; return its sampler."""
        sampler = req.sampler
        assert sampler is not None, "run_decodes takes no pooling request"
        req.num_computed += tokens
        req.num_tokens += tokens
        req.output += sampler.next_pieces(tokens)
        req.last_token_at = now
        self.generation_tokens_total += tokens
        return sampler

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

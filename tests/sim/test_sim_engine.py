"""Engine fidelity on a virtual clock: what vLLM is known for, reproduced deterministically."""

from __future__ import annotations

from vllm_model.catalog import get_gpu, resolve_model
from vllm_model.memory import plan_memory
from vllm_model.timing import TimingModel
from vllm_sim.engine import FINISHED, Engine, EngineConfig, Request
from vllm_sim.tokens import PIECES, count_tokens

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"


def make_engine(model: str = QWEN, gpu: str = "L4", **overrides) -> Engine:
    spec, card = resolve_model(model), get_gpu(gpu)
    plan = plan_memory(spec, card, max_model_len=4096, max_num_seqs=256, max_num_batched_tokens=2048)
    return Engine(EngineConfig.from_plan(plan, TimingModel.build(spec, card, plan), **overrides))


def req(i: int, prompt: str = "hello world " * 8, max_tokens: int = 32, **kw) -> Request:
    return Request(str(i), prompt, max_tokens, seed=i, ignore_eos=kw.pop("ignore_eos", True), **kw)


def skewed_workload(n: int = 64) -> list[Request]:
    # Most answers short, a quarter long: the shape of chat traffic.
    return [req(i, max_tokens=256 if i % 4 == 0 else 16) for i in range(n)]


def run(engine: Engine, requests: list[Request]) -> float:
    for r in requests:
        engine.add_request(r, 0.0)
    return engine.run_until_idle()


def test_generated_pieces_are_one_token_each():
    assert all(count_tokens(p) == 1 and len(p) == 4 for p in PIECES)


def test_continuous_batching_at_least_doubles_static_batching_throughput():
    work_c, work_s = skewed_workload(), skewed_workload()
    continuous = run(make_engine(max_num_seqs=16), work_c)
    static = run(make_engine(max_num_seqs=16, static_batching=True), work_s)
    tokens = sum(len(r.output) for r in work_c)
    assert tokens == sum(len(r.output) for r in work_s) == 16 * 256 + 48 * 16
    assert (tokens / continuous) >= 2 * (tokens / static)


def test_prefix_caching_halves_time_to_first_token_with_a_long_shared_system_prompt():
    system = "You are a careful assistant. " * 140  # ~1000 tokens shared by every request

    def mean_ttft(caching: bool) -> float:
        engine = make_engine("mistralai/Mistral-7B-Instruct-v0.2", enable_prefix_caching=caching)
        now, ttfts = 0.0, []
        for i in range(8):  # one after another, as a chat session's turns arrive
            r = req(i, prompt=system + f"question {i}?", max_tokens=4)
            engine.add_request(r, now)
            now = engine.run_until_idle(now)
            ttfts.append(r.first_token_at - r.arrival)
        return sum(ttfts[1:]) / len(ttfts[1:])

    cached, uncached = mean_ttft(True), mean_ttft(False)
    assert cached <= uncached / 2


def test_prefix_cache_counts_queries_and_hits_in_tokens():
    engine = make_engine()
    shared = "z" * 4 * 64  # 64 tokens = 4 full blocks
    run(engine, [req(0, prompt=shared + "a", max_tokens=2)])
    run(engine, [req(1, prompt=shared + "b", max_tokens=2)])
    assert engine.prefix_queries == 2 * 65
    assert engine.prefix_hits == 64


def test_kv_usage_rises_with_concurrency():
    usages = []
    for concurrency in (4, 16, 64):
        engine = make_engine(num_blocks=2000)
        for i in range(concurrency):
            engine.add_request(req(i, max_tokens=100), 0.0)
        for _ in range(50):
            step = engine.schedule()
            engine.complete(step, 0.0)
        usages.append(engine.kv_usage())
    assert 0 < usages[0] < usages[1] < usages[2] <= 1


def test_preemptions_appear_past_capacity_and_every_request_still_finishes():
    engine = make_engine(num_blocks=64)  # 1024 tokens of KV for 16 requests wanting ~300 each
    work = [req(i, max_tokens=256) for i in range(16)]
    run(engine, work)
    assert engine.num_preemptions > 0
    assert all(r.status == FINISHED and len(r.output) == 256 for r in work)
    assert engine.pool.num_free == 64


def test_no_preemption_when_the_cache_is_big_enough():
    engine = make_engine()
    run(engine, [req(i, max_tokens=64) for i in range(16)])
    assert engine.num_preemptions == 0


def test_running_never_exceeds_max_num_seqs():
    engine = make_engine(max_num_seqs=8)
    for i in range(40):
        engine.add_request(req(i), 0.0)
    now = 0.0
    while engine.has_work():
        step = engine.schedule()
        assert len(engine.running) <= 8
        now += step.duration
        engine.complete(step, now)
    assert engine.max_running_seen == 8


def test_token_budget_chunks_a_long_prompt_across_steps():
    engine = make_engine(max_num_batched_tokens=512)
    long = req(0, prompt="q" * 4 * 2000, max_tokens=1)
    engine.add_request(long, 0.0)
    steps = 0
    while engine.has_work():
        step = engine.schedule()
        assert sum(n for _, n in step.scheduled) <= 512
        engine.complete(step, 0.0)
        steps += 1
    assert steps == 4  # 2000 prompt tokens in 512-token chunks


def test_prefill_is_compute_bound_and_decode_memory_bound():
    timing = make_engine("meta-llama/Llama-3.1-8B-Instruct").config.timing
    one, batch = timing.step_seconds(1, 100, 100, 1), timing.step_seconds(64, 6400, 6400, 64)
    assert batch < 2 * one  # 64 decodes cost about one: the weights are read once per step
    half, full = (
        timing.step_seconds(2048, 2048 * 1024, 2048, 1),
        timing.step_seconds(4096, 4096 * 2048, 4096, 1),
    )
    assert full > 1.8 * half > 10 * one  # prefill time grows with the prompt: compute-bound
    faster = make_engine("meta-llama/Llama-3.1-8B-Instruct", "H100-80GB").config.timing
    assert faster.step_seconds(1, 100, 100, 1) < one


def test_natural_lengths_are_deterministic_per_seed_and_end_with_stop():
    a, b = req(5, max_tokens=4000, ignore_eos=False), req(5, max_tokens=4000, ignore_eos=False)
    run(make_engine(), [a])
    run(make_engine(), [b])
    assert a.output == b.output
    assert a.finish_reason == "stop"


def test_abort_frees_blocks():
    engine = make_engine(num_blocks=100)
    r = req(0, max_tokens=500)
    engine.add_request(r, 0.0)
    engine.complete(engine.schedule(), 0.0)
    assert engine.pool.num_free < 100
    engine.abort("0", 0.0)
    assert r.finish_reason == "abort" and engine.pool.num_free == 100 and not engine.has_work()

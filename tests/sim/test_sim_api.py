"""The OpenAI API of a real simulator process, driven by the official `openai` client."""

from __future__ import annotations

import http.client
import json
import time

import openai
import pytest
from sim_helpers import QWEN, SimProcess, call, scrape, start_sim, value


def client(sim: SimProcess, key: str | None = "sekret") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sim.url}/v1", api_key=key or "none", max_retries=0, timeout=20)


def test_models_lists_every_served_name_with_max_model_len(sim_server):
    models = client(sim_server).models.list().data
    assert [m.id for m in models] == [QWEN, "qwen"]
    assert models[0].model_extra["max_model_len"] == 4096


def test_completion_counts_tokens_and_stops_at_max_tokens(sim_server):
    out = client(sim_server).completions.create(
        model="qwen", prompt="Say something " * 10, max_tokens=12, extra_body={"ignore_eos": True}
    )
    assert out.choices[0].finish_reason == "length"
    assert out.usage.completion_tokens == 12
    assert out.usage.prompt_tokens == 35  # 140 characters at four characters a token
    assert len(out.choices[0].text) == 12 * 4


def test_same_prompt_and_seed_give_the_same_text(sim_server):
    c = client(sim_server)
    texts = {
        c.completions.create(model="qwen", prompt="determinism", max_tokens=20, seed=7).choices[0].text
        for _ in range(3)
    }
    assert len(texts) == 1
    other = c.completions.create(model="qwen", prompt="determinism", max_tokens=20, seed=8).choices[0].text
    assert other not in texts


def test_chat_stream_sends_role_then_content_then_usage_and_done(sim_server):
    stream = client(sim_server).chat.completions.create(
        model=QWEN,
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 8
    assert len(text) == 8 * 4


def test_raw_stream_is_server_sent_events_ending_in_done(sim_server):
    status, body = call(
        sim_server, "/v1/completions", {"prompt": "x", "max_tokens": 3, "stream": True}, "sekret"
    )
    events = [line for line in body.decode().split("\n\n") if line]
    assert status == 200
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def full_text(c: openai.OpenAI, prompt: str, seed: int, **kw) -> str:
    out = c.completions.create(
        model="qwen", prompt=prompt, max_tokens=40, seed=seed, extra_body={"ignore_eos": True}, **kw
    )
    return "".join(ch.choices[0].text for ch in out) if kw.get("stream") else out.choices[0].text


def test_stop_string_ends_generation_and_is_not_returned(sim_server):
    c = client(sim_server)
    full = full_text(c, "stop test", 3)
    stop = full[20:28]
    cut = c.completions.create(
        model="qwen", prompt="stop test", max_tokens=40, seed=3, stop=[stop], extra_body={"ignore_eos": True}
    ).choices[0]
    assert cut.finish_reason == "stop"
    assert cut.text == full[: full.index(stop)]


def test_streamed_stop_string_never_leaks(sim_server):
    c = client(sim_server)
    full = full_text(c, "stream stop", 4)
    stop = full[30:38]
    assert full_text(c, "stream stop", 4, stop=stop, stream=True) == full[: full.index(stop)]


def test_prompt_over_the_context_length_is_a_400_saying_so_the_way_vllm_does(sim_server):
    # vLLM's renderer: the prompt may hold at most max-model-len - max_tokens tokens; it tokenizes one past
    # that and reports that count (a model without a shipped tokenizer: 4 characters a token).
    with pytest.raises(openai.BadRequestError) as err:
        client(sim_server).completions.create(model="qwen", prompt="x" * 4 * 5000, max_tokens=1)
    assert err.value.body["param"] == "input_tokens"
    assert err.value.body["message"] == (
        "You passed 4096 input tokens and requested 1 output tokens. However, the model's context length is "
        "only 4096 tokens, resulting in a maximum input length of 4095 tokens. Please reduce the length of "
        "the input prompt. (parameter=input_tokens, value=4096)"
    )
    with pytest.raises(openai.BadRequestError, match="requested 200 output tokens") as err:
        client(sim_server).completions.create(model="qwen", prompt="x" * 4 * 4000, max_tokens=200)
    assert "maximum input length of 3896 tokens" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError, match="cannot be greater than max_model_len"):
        client(sim_server).completions.create(model="qwen", prompt="x", max_tokens=5000)


def test_unknown_model_is_a_404(sim_server):
    with pytest.raises(openai.NotFoundError, match="The model `nope` does not exist"):
        client(sim_server).completions.create(model="nope", prompt="x", max_tokens=1)


def test_api_key_guards_v1_only(sim_server):
    with pytest.raises(openai.AuthenticationError):
        client(sim_server, key="wrong").models.list()
    assert call(sim_server, "/v1/models")[0] == 401
    for path in ("/health", "/metrics", "/version", "/ping"):
        assert call(sim_server, path)[0] == 200, path
    assert json.loads(call(sim_server, "/version")[1])["version"]


def test_vllm_api_key_environment_variable_sets_the_key(tmp_path):
    sim = start_sim(tmp_path, "--max-model-len", "2048", env={"VLLM_API_KEY": "from-env"})
    try:
        assert call(sim, "/v1/models")[0] == 401
        assert call(sim, "/v1/models", key="from-env")[0] == 200
    finally:
        sim.stop()


def test_embedding_model_serves_embeddings_and_refuses_generation(tmp_path):
    sim = start_sim(tmp_path, model="BAAI/bge-base-en-v1.5")
    try:
        c = client(sim, key=None)
        out = c.embeddings.create(model="BAAI/bge-base-en-v1.5", input=["a cat", "a dog"])
        assert [len(d.embedding) for d in out.data] == [768, 768]
        assert out.usage.prompt_tokens == 4
        assert out.data[0].embedding != out.data[1].embedding
        again = c.embeddings.create(model="BAAI/bge-base-en-v1.5", input="a cat", encoding_format="float")
        assert again.data[0].embedding == pytest.approx(out.data[0].embedding, abs=1e-6)
        with pytest.raises(openai.BadRequestError, match="does not support Completions API"):
            c.completions.create(model="BAAI/bge-base-en-v1.5", prompt="x", max_tokens=1)
    finally:
        sim.stop()


def test_generate_model_refuses_embeddings(sim_server):
    with pytest.raises(openai.BadRequestError, match="does not support Embeddings API"):
        client(sim_server).embeddings.create(model="qwen", input="x")


def test_a_client_that_disconnects_mid_stream_frees_its_request(sim_server):
    before = value(scrape(sim_server), "vllm:request_success_total", finished_reason="abort")
    body = json.dumps(
        {"model": "qwen", "prompt": "walk away", "max_tokens": 3000, "stream": True, "ignore_eos": True}
    )
    conn = http.client.HTTPConnection("127.0.0.1", sim_server.port, timeout=10)
    conn.request(
        "POST",
        "/v1/completions",
        body,
        {"Content-Type": "application/json", "Authorization": "Bearer sekret"},
    )
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read1(256).startswith(b"data: ")
    conn.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if value(scrape(sim_server), "vllm:request_success_total", finished_reason="abort") > before:
            break
        time.sleep(0.05)
    stats = json.loads(call(sim_server, "/sim/stats")[1])
    assert value(scrape(sim_server), "vllm:request_success_total", finished_reason="abort") == before + 1
    assert stats["running"] == 0 and stats["free_blocks"] == stats["num_blocks"]


def test_lora_modules_are_served_and_runtime_loading_needs_the_environment_flag(tmp_path):
    sim = start_sim(
        tmp_path,
        "--max-model-len",
        "2048",
        "--enable-lora",
        "--lora-modules",
        "sql=/loras/sql",
        env={"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"},
    )
    try:
        c = client(sim, key=None)
        assert [m.id for m in c.models.list().data] == [QWEN, "sql"]
        assert c.completions.create(model="sql", prompt="select", max_tokens=2).usage.completion_tokens == 2
        status, text = call(sim, "/v1/load_lora_adapter", {"lora_name": "chat", "lora_path": "/loras/chat"})
        assert status == 200 and b"added successfully" in text
        assert "chat" in [m.id for m in c.models.list().data]
        assert call(sim, "/v1/load_lora_adapter", {"lora_name": "chat", "lora_path": "/loras/chat"})[0] == 400
        assert call(sim, "/v1/unload_lora_adapter", {"lora_name": "chat"})[0] == 200
        assert call(sim, "/v1/unload_lora_adapter", {"lora_name": "chat"})[0] == 404
    finally:
        sim.stop()


def test_runtime_lora_loading_is_absent_without_the_environment_flag(sim_server):
    status, _ = call(sim_server, "/v1/load_lora_adapter", {"lora_name": "x", "lora_path": "/x"}, "sekret")
    assert status == 404

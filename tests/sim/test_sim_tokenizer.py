"""Prompts are counted in the model's own tokens where a registry package ships its tokenizer (the Mistral
family, through mistral-common), and refused by that count the way vLLM refuses them."""

from __future__ import annotations

import openai
import pytest
from sim_helpers import QWEN, SimProcess, scrape, start_sim, value

from vllm_model.catalog import load_models
from vllm_sim.tokenizer import load_tokenizer, tokenizer_names

MISTRAL = "mistralai/Mistral-7B-Instruct-v0.2"
X_PAIRS = "x " * 5000  # 10,000 characters: 2,500 tokens at 4 characters a token, 5,002 Mistral tokens


@pytest.fixture(scope="module")
def mistral(tmp_path_factory: pytest.TempPathFactory):
    sim = start_sim(tmp_path_factory.mktemp("mistral"), "--max-model-len", "4096", model=MISTRAL)
    yield sim
    sim.stop()


def _client(sim: SimProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sim.url}/v1", api_key="x", max_retries=0, timeout=30)


@pytest.mark.parametrize("name", sorted(n for n, m in load_models().items() if m.tokenizer))
def test_a_catalogued_tokenizer_has_exactly_its_models_vocabulary(name: str) -> None:
    model = load_models()[name]
    assert model.tokenizer in tokenizer_names()
    assert load_tokenizer(model.tokenizer).vocab_size == model.vocab_size


def test_mistral_counts_each_x_as_a_token_with_bos() -> None:
    ids = load_tokenizer("mistral-common/v1").encode(X_PAIRS)
    assert len(ids) == 5002  # BOS, 5000 x "\u2581x", the trailing space
    assert ids[0] == 1 and len(set(ids[1:5001])) == 1


def test_five_thousand_x_pairs_are_over_a_4096_limit_for_a_mistral_tokenizer(mistral: SimProcess) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        _client(mistral).completions.create(model=MISTRAL, prompt=X_PAIRS)  # max_tokens: vLLM's 16
    assert err.value.status_code == 400
    assert err.value.body["param"] == "input_tokens"
    assert err.value.body["message"] == (
        "You passed 4081 input tokens and requested 16 output tokens. However, the model's context length is "
        "only 4096 tokens, resulting in a maximum input length of 4080 tokens. Please reduce the length of "
        "the input prompt. (parameter=input_tokens, value=4081)"
    )


def test_the_usage_counts_a_mistral_prompt_token_exactly(mistral: SimProcess) -> None:
    out = _client(mistral).completions.create(model=MISTRAL, prompt="x " * 2000, max_tokens=2)
    assert out.usage.prompt_tokens == 2002
    assert value(scrape(mistral), "vllm:prompt_tokens_total") >= 2002


def test_a_repeated_mistral_prompt_hits_the_prefix_cache_by_its_token_ids(mistral: SimProcess) -> None:
    client, prompt = _client(mistral), "The quick brown fox jumps over the lazy dog. " * 40
    before = value(scrape(mistral), "vllm:prefix_cache_hits_total")
    for _ in range(2):
        client.completions.create(model=MISTRAL, prompt=prompt, max_tokens=1)
    assert value(scrape(mistral), "vllm:prefix_cache_hits_total") > before


def test_the_same_prompt_fits_a_model_the_simulator_approximates(tmp_path) -> None:
    sim = start_sim(tmp_path, "--max-model-len", "4096", model=QWEN)
    try:
        out = _client(sim).completions.create(model=QWEN, prompt=X_PAIRS, max_tokens=1)
        assert out.usage.prompt_tokens == 2500
    finally:
        sim.stop()

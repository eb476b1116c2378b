"""The served model's prompt tokenizer: its real one where a registry package ships it, else none.

vLLM counts a prompt in the model's own tokens, BOS included, and refuses it by that count. Mistral AI
publishes its tokenizers on PyPI (`mistral-common`, in the `sim` extra: SentencePiece v1/v3 and Tekken
files inside the wheel, nothing downloaded), so the Mistral family in the catalogue names one
(`tokenizer:` in models.yaml) and the simulator counts and hashes those prompts token-exactly. Every
other model keeps the 4-characters-a-token approximation of vllm_sim.tokens: the other families'
tokenizers are not shipped offline by their publishers (tiktoken-style packages download their files).
"""

from __future__ import annotations

from functools import cache, cached_property
from typing import Protocol

# catalogue name -> (mistral-common constructor, its arguments)
MISTRAL_COMMON = {
    "mistral-common/v1": ("v1", {}),
    "mistral-common/v3": ("v3", {}),
    "mistral-common/tekken-v3": ("v3", {"is_tekken": True}),
}


class TokenizerUnavailableError(RuntimeError):
    """The catalogue names a tokenizer whose package is not installed."""


class _RawTokenizer(Protocol):
    n_words: int

    def encode(self, s: str, bos: bool, eos: bool) -> list[int]: ...
    def id_to_piece(self, token_id: int) -> str: ...


class Tokenizer:
    """A real tokenizer, as vLLM's completion endpoint applies it (special tokens added: BOS)."""

    def __init__(self, name: str, raw: _RawTokenizer) -> None:
        self.name = name
        self._raw = raw
        self.vocab_size = raw.n_words

    def encode(self, text: str) -> list[int]:
        return self._raw.encode(text, bos=True, eos=False)

    @cached_property
    def max_chars_per_token(self) -> int:
        """The longest text one token stands for (vLLM's bound before it tokenizes; about a second for
        Tekken's 131k entries, so computed on the first prompt long enough to need it)."""
        # SentencePiece writes a leading space as U+2581.
        return max(len(self._raw.id_to_piece(i).replace("\u2581", " ")) for i in range(self.vocab_size))


def tokenizer_names() -> tuple[str, ...]:
    return tuple(MISTRAL_COMMON)


@cache
def load_tokenizer(name: str) -> Tokenizer:
    """The tokenizer a catalogue entry names (loaded once per process)."""
    if name not in MISTRAL_COMMON:
        raise ValueError(f"unknown tokenizer {name!r}; known: {', '.join(MISTRAL_COMMON)}")
    try:
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer
    except ImportError as exc:  # the sim extra brings it; a bare vllm_model install does not
        raise TokenizerUnavailableError(
            f"tokenizer {name} needs the mistral-common package: pip install 'vllm-inference[sim]'"
        ) from exc
    ctor, kwargs = MISTRAL_COMMON[name]
    raw: _RawTokenizer = getattr(MistralTokenizer, ctor)(**kwargs).instruct_tokenizer.tokenizer
    return Tokenizer(name, raw)

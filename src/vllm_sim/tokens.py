"""A cheap, consistent stand-in for a tokenizer and a sampler.

One token is four characters of text, everywhere a model has no real tokenizer (vllm_sim.tokenizer):
prompt token counts, the KV-cache block hashes (a block of 16 tokens is 64 characters) and generated
text (each generated token is one 4-character piece). So counts agree across the API, the engine and
the metrics, and re-sending a generated text as a prompt counts the same tokens.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

CHARS_PER_TOKEN = 4
# Generated "tokens": fixed-width pieces so that len(text) / 4 == token count.
PIECES = tuple(
    f" {w}"
    for w in [
        "the",
        "and",
        "for",
        "you",
        "are",
        "not",
        "can",
        "was",
        "all",
        "any",
        "her",
        "was",
        "one",
        "our",
        "out",
        "day",
        "get",
        "has",
        "him",
        "his",
        "how",
        "man",
        "new",
        "now",
        "old",
        "see",
        "two",
        "way",
        "who",
        "boy",
        "did",
        "its",
        "let",
        "put",
        "say",
        "she",
        "too",
        "use",
        "sim",
        "gpu",
        "kvc",
        "tok",
        "bat",
        "map",
        "run",
        "fit",
        "box",
        "key",
        "log",
        "net",
        "row",
        "set",
        "sum",
        "top",
        "web",
        "yes",
    ]
)


def count_tokens(text: str) -> int:
    """Tokens in a text (at least one for a non-empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def block_hashes(text: str, block_size: int) -> list[int]:
    """Chained hashes of the text's full KV blocks: equal prefixes give equal leading hashes."""
    width = block_size * CHARS_PER_TOKEN
    hashes: list[int] = []
    parent = 0
    for start in range(0, len(text) - width + 1, width):
        parent = hash((parent, text[start : start + width]))
        hashes.append(parent)
    return hashes


def token_block_hashes(token_ids: Sequence[int], block_size: int) -> list[int]:
    """The same chain over a real tokenizer's ids: one hash per full block of `block_size` ids."""
    hashes: list[int] = []
    parent = 0
    for start in range(0, len(token_ids) - block_size + 1, block_size):
        parent = hash((parent, tuple(token_ids[start : start + block_size])))
        hashes.append(parent)
    return hashes


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process (str hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Sampler:
    """Deterministic output for one request: its natural length (where it would emit EOS) and pieces."""

    __slots__ = ("_buffer", "_rng", "_taken", "natural_length")
    BATCH = 256  # pieces drawn at a time (random.choices draws them exactly as one random() each)

    def __init__(self, seed: int, mean_log_length: float = 4.5) -> None:
        self._rng = random.Random(seed)
        # Lognormal lengths (median ~90 tokens, long tail) like chat answers.
        self.natural_length = max(1, int(self._rng.lognormvariate(mean_log_length, 0.9)))
        self._buffer: list[str] = []
        self._taken = 0

    def next_piece(self) -> str:
        if self._taken == len(self._buffer):
            self._refill(1)
        self._taken += 1
        return self._buffer[self._taken - 1]

    def next_pieces(self, k: int) -> list[str]:
        """The next k pieces, the same as k next_piece() calls."""
        if self._taken + k > len(self._buffer):
            self._refill(k)
        start = self._taken
        self._taken += k
        return self._buffer[start : self._taken]

    def _refill(self, at_least: int) -> None:
        rest = self._buffer[self._taken :]
        self._buffer = rest + self._rng.choices(PIECES, k=max(self.BATCH, at_least))
        self._taken = 0


def embedding(text: str, dims: int) -> list[float]:
    """A deterministic unit vector for a text."""
    rng = random.Random(stable_seed("embed", text))
    vec = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]

"""The requests a capacity ramp sends: prompts and output lengths from flags, a `vllm-sim replay` workload
file (its `prompts` section and seed; the ramp sets the rates) or a JSONL sample of real prompts.

Generated prompts are words of four characters that are one token each in common tokenizers (` the`,
` and`, ...) and in the simulator's four-characters-a-token count, so `--input-tokens 512` is about 512
tokens on a real vLLM and exactly 512 on the simulator. Every prompt is distinct from its first block on
(seeded words), except the prefix a workload's group shares, so the prefix cache helps exactly as much as
the workload says. The same mix is replayed for a prediction as `vllm_sim.workload.Prompts` (the mean
lengths of a JSONL sample, counted as the simulator counts).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

from vllm_plan.errors import PlanInputError
from vllm_sim.tokens import count_tokens, stable_seed
from vllm_sim.workload import Prompts, WorkloadError, load_workload

WORDS = (
    *(" the", " and", " for", " you", " not", " are", " but", " his", " was", " all", " can", " had"),
    *(" her", " one", " our", " out", " day", " get", " has", " him", " how", " man", " new", " now"),
    *(" old", " see", " two", " way", " who", " boy", " did", " its", " let", " put", " say", " she"),
)
DEFAULT_INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS = 512, 128
DISTINCT_PROMPTS = 4096  # generated prompts cycled: more than a ramp's default request budget


@dataclass(frozen=True)
class RequestMix:
    requests: tuple[tuple[str, int], ...]  # (prompt, max_tokens), request i takes requests[i % len]
    prompts: Prompts  # the same mix as `vllm-sim replay` takes it
    source: str  # where it came from, for the report

    @property
    def mean_input_tokens(self) -> int:
        return self.prompts.prompt_tokens

    @property
    def mean_output_tokens(self) -> int:
        return self.prompts.output_tokens

    def as_served(self, prompt_tokens: int) -> RequestMix:
        """The same mix with its prompts `prompt_tokens` long, as a server counted them (a chat template's
        tokens included), for a replay; the requests sent are unchanged."""
        if prompt_tokens == self.prompts.prompt_tokens:
            return self
        return replace(self, prompts=replace(self.prompts, prompt_tokens=max(1, prompt_tokens)))


def _words(seed: int, count: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choices(WORDS, k=count))


def _grouped(prompts: Prompts, seed: int, source: str) -> RequestMix:
    texts = []
    for g in range(prompts.groups):
        prefix = _words(stable_seed(seed, "prefix", g), prompts.prefix_tokens)
        for j in range(prompts.prompts_per_group):
            own = prompts.prompt_tokens - prompts.prefix_tokens
            texts.append(prefix + _words(stable_seed(seed, "prompt", g, j), own))
    return RequestMix(tuple((t, prompts.output_tokens) for t in texts), prompts, source)


def mix_from_lengths(input_tokens: int, output_tokens: int, distinct: int = DISTINCT_PROMPTS) -> RequestMix:
    """`distinct` different prompts of `input_tokens` words, each asking for `output_tokens`."""
    prompts = Prompts(
        groups=1,
        prompts_per_group=distinct,
        prefix_tokens=0,
        prompt_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    return _grouped(prompts, 0, f"--input-tokens {input_tokens} --output-tokens {output_tokens}")


def mix_from_workload(path: Path) -> RequestMix:
    """A `vllm-sim replay` workload's prompts: its groups, shared prefixes and lengths, in its order."""
    try:
        workload = load_workload(path)
    except WorkloadError as exc:
        raise PlanInputError(f"--workload {path}: {exc}") from exc
    return _grouped(workload.prompts, workload.seed, f"--workload {path} (its prompts; the ramp sets rates)")


def mix_from_jsonl(path: Path, default_output_tokens: int) -> RequestMix:
    """Real prompts, one JSON object a line: {"prompt": TEXT, "max_tokens": N} (max_tokens optional)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PlanInputError(f"--prompts {path}: cannot read it: {exc}") from exc
    requests: list[tuple[str, int]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"--prompts {path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PlanInputError(f"{where}: not JSON: {exc}") from exc
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str) or not item["prompt"]:
            raise PlanInputError(f'{where}: `prompt` must be a non-empty string ({{"prompt": "...", ...}})')
        unknown = sorted(set(item) - {"prompt", "max_tokens"})
        if unknown:
            raise PlanInputError(f"{where}: `{unknown[0]}`: unknown key (known: max_tokens, prompt)")
        tokens = item.get("max_tokens", default_output_tokens)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise PlanInputError(f"{where}: `max_tokens` must be an integer >= 1, got {tokens!r}")
        requests.append((item["prompt"], tokens))
    if not requests:
        raise PlanInputError(f"--prompts {path}: no prompts in it")
    prompts = Prompts(
        groups=1,
        prompts_per_group=len(requests),
        prefix_tokens=0,
        prompt_tokens=max(1, round(sum(count_tokens(p) for p, _ in requests) / len(requests))),
        output_tokens=max(1, round(sum(t for _, t in requests) / len(requests))),
    )
    return RequestMix(tuple(requests), prompts, f"--prompts {path} ({len(requests)} prompts)")

"""A replay workload (YAML): stages of arrivals and a set of shared-prefix prompts.

```yaml
seed: 0
stages:                 # run in order; the cache state carries over
  - {rate: 5.0, duration: 600, arrival: constant}   # or poisson
prompts:
  groups: 10            # distinct shared prefixes
  prompts_per_group: 10 # distinct prompts cycled = groups x prompts_per_group
  prefix_tokens: 100    # shared within a group
  prompt_tokens: 566    # per request, prefix included
  output_tokens: 247
  ignore_eos: true
```

Arrivals are fixed intervals (`constant`, as inference-perf's constant-rate stages) or exponential gaps
(`poisson`, seeded). Requests cycle through the prompts in order: group 0's prompts, then group 1's, ...
Token counts are the simulator's (four characters a token), so a prompt of `prompt_tokens` is exactly that
many tokens to the engine and its prefix exactly `prefix_tokens` of shared KV blocks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vllm_sim.tokens import CHARS_PER_TOKEN

ARRIVALS = ("constant", "poisson")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TOP_KEYS = {"seed", "stages", "prompts"}
_STAGE_KEYS = {"rate", "duration", "arrival"}
_PROMPT_KEYS = {
    "groups",
    "prompts_per_group",
    "prefix_tokens",
    "prompt_tokens",
    "output_tokens",
    "ignore_eos",
}


class WorkloadError(ValueError):
    """The workload file is malformed; the message names the key."""


@dataclass(frozen=True)
class Stage:
    rate: float  # requests per second
    duration: float  # seconds
    arrival: str = "constant"


@dataclass(frozen=True)
class Prompts:
    groups: int
    prompts_per_group: int
    prefix_tokens: int
    prompt_tokens: int
    output_tokens: int
    ignore_eos: bool = True

    @property
    def distinct(self) -> int:
        return self.groups * self.prompts_per_group


@dataclass(frozen=True)
class Arrival:
    time: float
    stage: int
    prompt: int


@dataclass(frozen=True)
class Workload:
    stages: tuple[Stage, ...]
    prompts: Prompts
    seed: int = 0

    @property
    def stage_starts(self) -> list[float]:
        starts, t = [], 0.0
        for stage in self.stages:
            starts.append(t)
            t += stage.duration
        return starts

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.stages)

    def arrivals(self) -> list[Arrival]:
        """Every request's arrival time (seconds from the start), stage and prompt index."""
        rng = random.Random(self.seed)
        out: list[Arrival] = []
        for index, (stage, start) in enumerate(zip(self.stages, self.stage_starts, strict=True)):
            if stage.arrival == "constant":
                count = math.floor(stage.rate * stage.duration + 1e-9)
                times = [start + k / stage.rate for k in range(count)]
            else:
                times, t = [], start + rng.expovariate(stage.rate)
                while t < start + stage.duration:
                    times.append(t)
                    t += rng.expovariate(stage.rate)
            out += [Arrival(t, index, (len(out) + k) % self.prompts.distinct) for k, t in enumerate(times)]
        return out

    def prompt_texts(self) -> list[str]:
        """The distinct prompts: group g's prefix, then prompt-specific tokens (4 characters each)."""
        p = self.prompts
        texts = []
        for g in range(p.groups):
            prefix = _code("g", g) * p.prefix_tokens
            for j in range(p.prompts_per_group):
                texts.append(
                    prefix + _code("q", g * p.prompts_per_group + j) * (p.prompt_tokens - p.prefix_tokens)
                )
        assert all(len(t) == p.prompt_tokens * CHARS_PER_TOKEN for t in texts)
        return texts


def _code(kind: str, n: int) -> str:
    """A distinct 4-character token for each n (`kind` + 3 base-62 digits: 238,328 values)."""
    digits = ""
    for _ in range(CHARS_PER_TOKEN - 1):
        n, r = divmod(n, len(_ALPHABET))
        digits = _ALPHABET[r] + digits
    return kind + digits


def _number(section: dict[str, Any], key: str, where: str, *, integer: bool, minimum: float) -> Any:
    value: Any = section.get(key)
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or not value >= minimum:
        kind = "an integer" if integer else "a number"
        raise WorkloadError(f"{where}{key}: must be {kind} >= {minimum}, got {value!r}")
    return value


def _unknown(section: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(section) - allowed)
    if extra:
        raise WorkloadError(f"{where}{extra[0]}: unknown key (known: {', '.join(sorted(allowed))})")


def parse_workload(data: Any) -> Workload:
    """Validate a parsed workload document; a WorkloadError names the first offending key."""
    if not isinstance(data, dict):
        raise WorkloadError("the workload must be a mapping with stages and prompts")
    _unknown(data, _TOP_KEYS, "")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise WorkloadError(f"seed: must be an integer, got {seed!r}")
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise WorkloadError("stages: must be a non-empty list of {rate, duration, arrival}")
    stages = []
    for i, raw in enumerate(raw_stages):
        where = f"stages[{i}]."
        if not isinstance(raw, dict):
            raise WorkloadError(f"stages[{i}]: must be a mapping with rate and duration")
        _unknown(raw, _STAGE_KEYS, where)
        rate = _number(raw, "rate", where, integer=False, minimum=1e-9)
        duration = _number(raw, "duration", where, integer=False, minimum=1e-9)
        arrival = raw.get("arrival", "constant")
        if arrival not in ARRIVALS:
            raise WorkloadError(f"{where}arrival: must be one of {', '.join(ARRIVALS)}, got {arrival!r}")
        stages.append(Stage(float(rate), float(duration), arrival))
    raw_prompts = data.get("prompts")
    if not isinstance(raw_prompts, dict):
        raise WorkloadError("prompts: must be a mapping (groups, prompts_per_group, prefix_tokens, ...)")
    _unknown(raw_prompts, _PROMPT_KEYS, "prompts.")
    fields = {
        key: _number(raw_prompts, key, "prompts.", integer=True, minimum=minimum)
        for key, minimum in (
            ("groups", 1),
            ("prompts_per_group", 1),
            ("prefix_tokens", 0),
            ("prompt_tokens", 1),
            ("output_tokens", 1),
        )
    }
    if fields["prefix_tokens"] >= fields["prompt_tokens"]:
        raise WorkloadError(
            f"prompts.prefix_tokens: must be below prompts.prompt_tokens ({fields['prompt_tokens']}), "
            f"got {fields['prefix_tokens']}"
        )
    if fields["groups"] * fields["prompts_per_group"] > len(_ALPHABET) ** (CHARS_PER_TOKEN - 1):
        raise WorkloadError("prompts.groups: groups x prompts_per_group must be at most 238328")
    ignore_eos = raw_prompts.get("ignore_eos", True)
    if not isinstance(ignore_eos, bool):
        raise WorkloadError(f"prompts.ignore_eos: must be true or false, got {ignore_eos!r}")
    return Workload(tuple(stages), Prompts(**fields, ignore_eos=ignore_eos), seed)


def load_workload(path: str | Path) -> Workload:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorkloadError(f"cannot read workload {path}: {exc}") from exc
    return parse_workload(data)

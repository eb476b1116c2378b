"""`vllm serve`'s command line, by vLLM's own flag names and argparse behaviour.

Flags the simulator models are declared here with vLLM's defaults; every other real flag (listed in
flags.yaml) is accepted and ignored; anything else fails the way vLLM fails:
`vllm serve: error: unrecognized arguments: --max-num-seq`, exit status 2. Like vLLM's
FlexibleArgumentParser, underscores in flag names are accepted (`--max_num_seqs`), abbreviations are
not, integer sizes may be written human-readably (`32k` = 32000, `32K` = 32768), and `--config FILE`
reads flags from a YAML file.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TypedDict

import yaml

from vllm_model.catalog import dtype_choices, kv_cache_dtype_choices

FLAGS_FILE = Path(__file__).parent / "flags.yaml"

PROG = "vllm serve"


def human_readable_int(value: str) -> int:
    """vLLM's size syntax: 1k = 1000, 1K = 1024, 2m = 2e6, 2M = 2**21; plain integers as is."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgG]?)", value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid int value: {value!r}")
    number, suffix = match.groups()
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "K": 2**10, "M": 2**20, "G": 2**30}[suffix]
    result = float(number) * scale
    if not result.is_integer():
        raise argparse.ArgumentTypeError(f"invalid int value: {value!r}")
    return int(result)


# flags.yaml: ignored flag names by kind (bool, value, list, optional: see its header), and short spellings
# (`short`: -x -> the long name).
class IgnoredFlags(TypedDict):
    # The fields named after builtins come last, so no annotation below them could read the field instead.
    short: dict[str, str]
    value: list[str]
    optional: list[str]
    bool: list[str]
    list: list[str]


@cache
def ignored_flags() -> IgnoredFlags:
    with FLAGS_FILE.open(encoding="utf-8") as fh:
        flags: IgnoredFlags = yaml.safe_load(fh)
    return flags


def _lora_modules(value: str) -> dict[str, str]:
    if "=" in value and "," not in value and not value.lstrip().startswith("{"):
        name, path = value.split("=", 1)
        return {"name": name, "path": path}
    try:
        entry = json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"Invalid JSON format for --lora-modules: {value}") from exc
    if not isinstance(entry, dict) or "name" not in entry or "path" not in entry:
        raise argparse.ArgumentTypeError(f"Invalid fields for --lora-modules: {value}")
    return entry


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, allow_abbrev=False, description="vLLM OpenAI-compatible server (simulated)"
    )
    bool_opt = argparse.BooleanOptionalAction
    p.add_argument("model_tag", nargs="?", help="The model tag to serve (optional if specified in config)")
    p.add_argument("--config", help="Read CLI options from a YAML config file.")
    p.add_argument("--model", default=None, help="Name or path of the Hugging Face model to use.")
    p.add_argument(
        "--hf-config-path",
        default=None,
        help="Name or path of the Hugging Face config to use. If unspecified, model name or path will be "
        "used.",
    )
    p.add_argument("--served-model-name", nargs="+", default=None)
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", nargs="+", default=None)
    p.add_argument("--max-model-len", type=human_readable_int, default=None)
    p.add_argument("--max-num-seqs", type=int, default=None)
    p.add_argument("--max-num-batched-tokens", type=human_readable_int, default=None)
    p.add_argument("--gpu-memory-utilization", type=float, default=None)
    p.add_argument("--dtype", choices=dtype_choices(), default="auto")
    p.add_argument("--kv-cache-dtype", choices=kv_cache_dtype_choices(), default="auto")
    p.add_argument("--quantization", "-q", default=None)
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
    p.add_argument("--pipeline-parallel-size", "-pp", type=int, default=1)
    p.add_argument("--block-size", type=int, default=None)
    p.add_argument("--num-gpu-blocks-override", type=int, default=None)
    p.add_argument("--kv-cache-memory-bytes", type=human_readable_int, default=None)
    p.add_argument("--enable-prefix-caching", action=bool_opt, default=None)
    p.add_argument("--enable-chunked-prefill", action=bool_opt, default=None)
    p.add_argument("--enforce-eager", action=bool_opt, default=False)
    p.add_argument("--enable-lora", action=bool_opt, default=False)
    p.add_argument("--max-loras", type=int, default=1)
    p.add_argument("--lora-modules", nargs="+", type=_lora_modules, default=None)
    p.add_argument("--revision", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--shutdown-timeout", type=int, default=0, help="Shutdown timeout in seconds. 0 = abort, >0 = wait."
    )
    flags = ignored_flags()
    shorts: dict[str, list[str]] = {}
    for short, long in flags.get("short", {}).items():
        shorts.setdefault(long, []).append(short)
    for name in flags["bool"]:
        p.add_argument(f"--{name}", action=bool_opt, default=None, help=argparse.SUPPRESS)
    for name in flags["value"]:
        p.add_argument(*shorts.get(name, []), f"--{name}", default=None, help=argparse.SUPPRESS)
    for name in flags["list"]:
        p.add_argument(f"--{name}", nargs="+", default=None, help=argparse.SUPPRESS)
    for name in flags["optional"]:
        p.add_argument(f"--{name}", nargs="?", const=True, default=None, help=argparse.SUPPRESS)
    return p


def _normalise(argv: Sequence[str]) -> list[str]:
    """`--max_num_seqs=8` -> `--max-num-seqs=8`, as vLLM's FlexibleArgumentParser does."""
    out = []
    for arg in argv:
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            arg = name.replace("_", "-") + eq + value
        out.append(arg)
    return out


def _config_file_args(path: str, given: set[str]) -> list[str]:
    """Flags from a YAML config file, minus those the command line sets (the command line wins)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out: list[str] = []
    for key, value in data.items():
        name = str(key).replace("_", "-")
        if f"--{name}" in given or f"--no-{name}" in given:
            continue
        if value is True or value is False:
            out.append(f"--{name}" if value else f"--no-{name}")
        elif isinstance(value, list):
            out += [f"--{name}", *map(str, value)]
        else:
            out += [f"--{name}", str(value)]
    return out


def parse_serve_args(argv: Sequence[str], prog: str = PROG) -> argparse.Namespace:
    """Parse `vllm serve` arguments (without the `serve` word). Exits 2 on a bad flag, like argparse, with
    `prog` naming the command in the message (`vllm run-batch` takes the same engine flags)."""
    parser = build_parser(prog)
    argv = _normalise(argv)
    if "--config" in argv:
        idx = argv.index("--config")
        if idx + 1 >= len(argv):
            parser.error("argument --config: expected one argument")
        rest = [*argv[:idx], *argv[idx + 2 :]]
        given = {a.split("=", 1)[0] for a in rest if a.startswith("--")}
        try:
            argv = [*rest, *_config_file_args(argv[idx + 1], given)]
        except (OSError, yaml.YAMLError, AttributeError) as exc:
            parser.error(f"argument --config: cannot read {argv[idx + 1]}: {exc}")
    args = parser.parse_args(argv)
    args.model = args.model_tag or args.model
    if not args.model:
        parser.error("the following arguments are required: model_tag (or --model)")
    return args

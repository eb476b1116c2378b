"""One shard of a batch Job: `vllm run-batch` over this shard's input lines that have no output yet.

    python3 batch_shard.py --input IN.jsonl --output-dir DIR --shards N [--index I] -- vllm run-batch ARGS

Runs in the vLLM image itself (python3 standard library only; `vllm` on PATH), as the Indexed Job's
container. Shard I of N (I from JOB_COMPLETION_INDEX, which the Job sets) takes the input's non-blank lines
number I, I+N, I+2N, ... (0-based, round robin, so shards stay even when the file is sorted by length) and
owns DIR/shard-I.jsonl, its output: one line per request, keyed by `custom_id`.

Why a wrapper: `vllm run-batch` empties its output file at start, keeps its output in a buffer flushed
every 100 lines (so a killed run leaves a prefix, maybe with a torn last line) and stops the whole run on a
line that is not a valid request. Each start of the shard therefore:
1. salvages the previous attempt's complete lines (newline-terminated JSON objects with a string
   custom_id) from DIR/.shard-I.part.jsonl into the output;
2. answers every malformed input line itself with vLLM's error line (status 400, no body, the reason as
   `error`; custom_id `invalid-line-<line number>` where the line has none), so vLLM never sees it;
3. writes the shard's requests whose custom_id has no output line to DIR/.shard-I.input.jsonl and runs
   the command after `--` with `-i` that file and `-o` the part file, passing SIGTERM/SIGINT on to it;
4. merges the part file's complete lines into the output when vLLM exits, and exits with vLLM's status
   (128 + the signal when a signal ended it).
Every merge writes the whole output to DIR/.shard-I.tmp, fsyncs it and renames it over the output (then
fsyncs DIR): the output is always a complete earlier or later version, and a custom_id is never written
twice. A kill at any moment loses at most the requests vLLM had not flushed; they run again next time.

Exit status: 0 every request of the shard has an output line; 2 bad arguments, a missing input file or a
custom_id repeated within the shard (the Job's podFailurePolicy fails the Job at once, as for vLLM's own
bad arguments); 75 vLLM exited 0 but some requests have no output (retried); otherwise vLLM's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

CONFIG_ERROR = 2
INCOMPLETE = 75  # EX_TEMPFAIL


def log(message: str) -> None:
    print(f"[batch-shard] {message}", file=sys.stderr, flush=True)


def complete_records(path: Path) -> list[tuple[str, str]]:
    """(custom_id, line) of each complete output line of `path`: newline-terminated JSON objects with a
    string custom_id. A torn last line (a kill mid-write) and anything unreadable are left out."""
    if not path.exists():
        return []
    records = []
    for raw in path.read_bytes().split(b"\n")[:-1]:
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("custom_id"), str):
            records.append((obj["custom_id"], raw.decode("utf-8")))
    return records


def merge(output: Path, new: list[tuple[str, str]]) -> int:
    """Add the records of `new` whose custom_id `output` lacks, atomically; returns how many were added."""
    existing = complete_records(output)
    seen = {cid for cid, _ in existing}
    added = []
    for cid, line in new:
        if cid not in seen:
            seen.add(cid)
            added.append(line)
    if not added:
        return 0
    tmp = output.with_name(f".{output.stem}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for _, line in existing)
        fh.writelines(line + "\n" for line in added)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, output)
    dir_fd = os.open(output.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return len(added)


def invalid_reason(obj: Any) -> str | None:
    """Why vLLM's BatchRequestInput would refuse the parsed line (stopping the whole run), or None."""
    if not isinstance(obj, dict):
        return "the line is not a JSON object"
    for key in ("custom_id", "method", "url"):
        if not isinstance(obj.get(key), str):
            return f"`{key}` is missing or not a string"
    body = obj.get("body")
    if not isinstance(body, dict):
        return "`body` is missing or not a JSON object"
    url = obj["url"]
    if url == "/v1/chat/completions" and not isinstance(body.get("messages"), list):
        return "a /v1/chat/completions body needs `messages` (a list)"
    if url == "/v1/embeddings" and "input" not in body and not isinstance(body.get("messages"), list):
        return "a /v1/embeddings body needs `input`"
    return None


def error_line(custom_id: str, message: str) -> str:
    """vLLM's error line (make_error_request_output): status 400, no body, the message as `error`."""
    record = {
        "id": f"vllm-{uuid.uuid4().hex}",
        "custom_id": custom_id,
        "response": {"status_code": 400, "request_id": f"vllm-batch-{uuid.uuid4().hex}", "body": None},
        "error": f"invalid batch input line: {message}",
    }
    return json.dumps(record, separators=(",", ":"))


class ShardInput:
    """The shard's lines of the input: valid requests by custom_id, and error lines for the malformed."""

    def __init__(self, path: Path, shards: int, index: int) -> None:
        self.requests: dict[str, str] = {}
        self.invalid: list[tuple[str, str]] = []
        self.duplicates: list[str] = []
        position = -1
        with path.open(encoding="utf-8", errors="replace") as fh:
            for number, raw in enumerate(fh, start=1):
                line = raw.strip()
                if not line:
                    continue
                position += 1
                if position % shards != index:
                    continue
                try:
                    obj: Any = json.loads(line)
                    reason = invalid_reason(obj)
                except ValueError as exc:
                    obj, reason = None, f"not JSON ({exc})"
                if reason is not None:
                    given = obj.get("custom_id") if isinstance(obj, dict) else None
                    cid = given if isinstance(given, str) and given else f"invalid-line-{number}"
                    self.invalid.append((cid, error_line(cid, f"line {number}: {reason}")))
                elif obj["custom_id"] in self.requests:
                    self.duplicates.append(f"{obj['custom_id']!r} (line {number})")
                else:
                    self.requests[obj["custom_id"]] = line


def run_vllm(command: list[str]) -> int:
    """Run vLLM as a child, passing SIGTERM/SIGINT on (the pod's stop reaches vLLM); its exit status, 128 +
    the signal when one ended it. A signal that comes before the child exists stops the shard there."""
    children: list[subprocess.Popen[bytes]] = []
    stopped: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopped.append(signum)
        for child in children:
            child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    if stopped:
        return 128 + stopped[0]
    children.append(subprocess.Popen(command))
    if stopped:  # a signal between the handler and the child's start
        children[0].send_signal(stopped[0])
    code = children[0].wait()
    return 128 - code if code < 0 else code


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" not in argv:
        print("batch_shard.py: error: give the vllm command after `--`", file=sys.stderr)
        sys.exit(CONFIG_ERROR)
    split = argv.index("--")
    p = argparse.ArgumentParser(prog="batch_shard.py", allow_abbrev=False)
    p.add_argument("--input", required=True, type=Path, help="the batch input file (JSONL)")
    p.add_argument("--output-dir", required=True, type=Path, help="where shard-<index>.jsonl is written")
    p.add_argument("--shards", required=True, type=int, help="how many shards the input is split into")
    p.add_argument("--index", type=int, default=None, help="this shard (default: JOB_COMPLETION_INDEX)")
    args = p.parse_args(argv[:split])
    if args.index is None:
        args.index = int(os.environ.get("JOB_COMPLETION_INDEX", "0"))
    if args.shards < 1 or not 0 <= args.index < args.shards:
        p.error(f"--index {args.index} must be in [0, --shards {args.shards})")
    command = argv[split + 1 :]
    if not command:
        p.error("no vllm command after `--`")
    return args, command


def main(argv: list[str]) -> int:
    args, command = parse_args(argv)
    name = f"shard-{args.index}"
    out_dir: Path = args.output_dir
    output, part = out_dir / f"{name}.jsonl", out_dir / f".{name}.part.jsonl"
    remaining_file = out_dir / f".{name}.input.jsonl"
    if not args.input.is_file():
        log(f"the input file {args.input} does not exist: check batch.input.path and the data volume")
        return CONFIG_ERROR
    out_dir.mkdir(parents=True, exist_ok=True)
    shard = ShardInput(args.input, args.shards, args.index)
    if shard.duplicates:
        repeated = ", ".join(shard.duplicates)
        log(f"custom_id must be unique within the batch (outputs are matched by it): {repeated}")
        return CONFIG_ERROR
    salvaged = merge(output, complete_records(part))
    part.unlink(missing_ok=True)
    merge(output, shard.invalid)
    done = {cid for cid, _ in complete_records(output)}
    todo = [line for cid, line in shard.requests.items() if cid not in done]
    total = len(shard.requests) + len(shard.invalid)
    log(
        f"{name} of {args.shards}: {total} lines ({len(shard.invalid)} malformed), {len(done)} with output "
        f"({salvaged} salvaged from the last attempt), {len(todo)} to run"
    )
    if not todo:
        remaining_file.unlink(missing_ok=True)
        return 0
    remaining_file.write_text("".join(line + "\n" for line in todo), encoding="utf-8")
    code = run_vllm([*command, "-i", str(remaining_file), "-o", str(part)])
    added = merge(output, complete_records(part))
    part.unlink(missing_ok=True)
    left = len(todo) - added
    log(f"{name}: vllm exited {code}; {added} new output lines, {left} requests left")
    if code == 0 and left == 0:
        remaining_file.unlink(missing_ok=True)
    # vLLM exited 0 yet left requests without output: retried (counted against the backoff limit).
    return code if code != 0 or left == 0 else INCOMPLETE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

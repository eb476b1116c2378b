"""The local cluster's iptables rules and chains: recorded at cluster-up, removed exactly at cluster-down.

cluster-up saves the host's tables (`iptables-save`, `ip6tables-save`) before any component of the cluster
writes a rule. cluster-down compares them with the tables then and removes what the cluster added: chains
that appeared since the snapshot under the names the cluster's components use (kube-proxy and kubelet
`KUBE-*`, the CNI portmap plugin `CNI-*`), the chains named for this project (`VLLM-INFERENCE-*`, always
ours), and every rule that appeared since the snapshot inside those chains or jumping to them. A chain that
was there before cluster-up (another Kubernetes's `KUBE-*`, a developer's own) is never touched, nor is a
rule that was.

Without a snapshot (a cluster started by an older up.sh) only the project's own chains are attributable.

Usage (run as root, stdlib only: cluster-down runs it with the system python3):
  netfilter.py snapshot DIR    save each family's tables to DIR unless already saved
  netfilter.py plan DIR        print the iptables-restore input cluster-down would apply
  netfilter.py teardown DIR    apply it, table by table
  netfilter.py diff DIR        print every chain and rule that differs from DIR's snapshot; exit 1 if any
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Chains the cluster's components create when they are new since the snapshot.
COMPONENT_PREFIXES = ("KUBE-", "CNI-")
# Chains named for this project: ours whenever they exist (up.sh's VLLM-INFERENCE-INPUT).
OWN_PREFIXES = ("VLLM-INFERENCE-",)
# The two address families and their save/restore commands.
FAMILIES = {
    "iptables": ("iptables-save", "iptables-restore"),
    "ip6tables": ("ip6tables-save", "ip6tables-restore"),
}


@dataclass
class Table:
    """One table of an iptables-save dump: its user chains in order, the policies of its built-in chains,
    and its rules as saved (`-A CHAIN ...`)."""

    chains: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    policies: dict[str, str] = field(default_factory=dict)


def parse(dump: str) -> dict[str, Table]:
    """Tables of an iptables-save dump, keyed by name. Counters and comments are dropped."""
    tables: dict[str, Table] = {}
    current: Table | None = None
    for raw in dump.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            current = tables.setdefault(line[1:], Table())
        elif current is None:
            raise ValueError(f"iptables-save line outside a table: {line!r}")
        elif line.startswith(":"):
            chain, policy = line[1:].split()[:2]
            if policy == "-":
                current.chains.append(chain)
            else:
                current.policies[chain] = policy
        elif line.startswith("-A "):
            current.rules.append(line)
        else:
            raise ValueError(f"unexpected iptables-save line: {line!r}")
    return tables


def rule_chain(rule: str) -> str:
    return rule.split()[1]


def rule_target(rule: str) -> str | None:
    """The chain a rule jumps or goes to (-j/-g), if any. iptables-save quotes like a shell (comments)."""
    try:
        words = shlex.split(rule)
    except ValueError:
        words = rule.split()
    for flag in ("-j", "-g", "--jump", "--goto"):
        if flag in words[:-1]:
            return words[words.index(flag) + 1]
    return None


def teardown_lines(before: str | None, after: str) -> dict[str, list[str]]:
    """Per table, the iptables-restore (--noflush) lines that remove what appeared between two dumps and
    belongs to the cluster: first the new rules in surviving chains that jump to a doomed chain or sit in a
    chain of ours, then a flush of every doomed chain, then their deletion.

    `before` None means no snapshot was taken: only the project's own chains are removed.
    """
    old = parse(before) if before is not None else {}
    prefixes = OWN_PREFIXES + (COMPONENT_PREFIXES if before is not None else ())
    plan: dict[str, list[str]] = {}
    for name, now in parse(after).items():
        was = old.get(name, Table())
        existed = set(was.chains)
        doomed = [
            c
            for c in now.chains
            if c.startswith(OWN_PREFIXES) or (c.startswith(prefixes) and c not in existed)
        ]
        new_rules = Counter(now.rules) - Counter(was.rules)
        if before is None:
            new_rules = Counter(now.rules)
        deletes = []
        for rule in now.rules:
            chain, target = rule_chain(rule), rule_target(rule)
            if chain in doomed or new_rules[rule] == 0:
                continue
            if target in doomed or chain.startswith(prefixes):
                new_rules[rule] -= 1
                deletes.append("-D" + rule[2:])
        lines = deletes + [f"-F {c}" for c in doomed] + [f"-X {c}" for c in doomed]
        if lines:
            plan[name] = lines
    return plan


def differences(before: str, after: str) -> list[str]:
    """Every user chain and rule added (+) or removed (-) between two dumps, and every built-in chain whose
    policy changed, as `table: ...` lines. A table that appears with only its built-in chains at their
    default ACCEPT (iptables-nft creates a table on first use and cannot delete it) is no difference."""
    out = []
    old, new = parse(before), parse(after)
    for name in sorted(set(old) | set(new)):
        was, now = old.get(name, Table()), new.get(name, Table())
        for chain in sorted(set(was.policies) | set(now.policies)):
            a, b = was.policies.get(chain, "ACCEPT"), now.policies.get(chain, "ACCEPT")
            if a != b:
                out.append(f"{name}: policy {chain} {a} -> {b}")
        out += [f"{name}: +chain {c}" for c in now.chains if c not in was.chains]
        out += [f"{name}: -chain {c}" for c in was.chains if c not in now.chains]
        added, removed = Counter(now.rules) - Counter(was.rules), Counter(was.rules) - Counter(now.rules)
        out += [f"{name}: +{r}" for r in sorted(added.elements())]
        out += [f"{name}: -{r}" for r in sorted(removed.elements())]
    return out


def restore_input(table: str, lines: list[str]) -> str:
    return "\n".join([f"*{table}", *lines, "COMMIT", ""])


def families() -> list[str]:
    """The families whose save command is installed (ip6tables may be absent)."""
    return [f for f, (save, _) in FAMILIES.items() if shutil.which(save)]


def save(family: str) -> str:
    return subprocess.run([FAMILIES[family][0]], capture_output=True, text=True, check=True).stdout


def snapshot_path(directory: Path, family: str) -> Path:
    return directory / f"{family}.before"


def read_snapshot(directory: Path, family: str) -> str | None:
    path = snapshot_path(directory, family)
    return path.read_text() if path.exists() else None


def cmd_snapshot(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    for family in families():
        path = snapshot_path(directory, family)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(save(family))
            tmp.replace(path)
    return 0


def cmd_plan(directory: Path, apply: bool) -> int:
    failed = 0
    for family in families():
        before, after = read_snapshot(directory, family), save(family)
        if before is None:
            unknown = [c for t in parse(after).values() for c in t.chains if c.startswith(COMPONENT_PREFIXES)]
            if unknown:
                print(f"[netfilter] {family}: no snapshot in {directory}: not known to be ours, left:")
                print(f"[netfilter]   {' '.join(sorted(set(unknown)))}")
        plan = teardown_lines(before, after)
        for table, lines in plan.items():
            if not apply:
                print(f"# {family}\n{restore_input(table, lines)}", end="")
                continue
            failed += apply_table(family, table, lines)
    return 1 if failed else 0


def apply_table(family: str, table: str, lines: list[str]) -> int:
    """Apply a table's lines in one transaction; if it fails (a rule vanished meanwhile), line by line.
    Returns the number of lines that could not be applied."""
    restore = [FAMILIES[family][1], "-w", "--noflush"]
    if _restore(restore, table, lines):
        removed = sum(1 for line in lines if line.startswith("-X"))
        print(f"[netfilter] {family} {table}: removed {removed} chain(s), {len(lines) - 2 * removed} rule(s)")
        return 0
    failed = [line for line in lines if not _restore(restore, table, [line])]
    for line in failed:
        print(f"[netfilter] {family} {table}: could not apply {line!r}", file=sys.stderr)
    return len(failed)


def _restore(restore: list[str], table: str, lines: list[str]) -> bool:
    result = subprocess.run(restore, input=restore_input(table, lines), capture_output=True, text=True)
    return result.returncode == 0


def cmd_diff(directory: Path) -> int:
    found = []
    for family in families():
        before = read_snapshot(directory, family)
        if before is None:
            print(f"[netfilter] {family}: no snapshot in {directory}", file=sys.stderr)
            return 2
        found += [f"{family} {d}" for d in differences(before, save(family))]
    print("\n".join(found))
    return 1 if found else 0


def main(argv: list[str]) -> int:
    commands = {"snapshot", "plan", "teardown", "diff"}
    if len(argv) != 2 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    command, directory = argv[0], Path(argv[1])
    if command == "snapshot":
        return cmd_snapshot(directory)
    if command == "diff":
        return cmd_diff(directory)
    return cmd_plan(directory, apply=command == "teardown")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

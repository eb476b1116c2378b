"""A tiny deterministic pairwise (all-pairs) generator: every allowed pair of levels of any two factors
appears in some row.

Greedy, AETG-style without randomness: each row starts from the first still-uncovered pair, then fills the
other factors, in order, with the allowed level that covers the most new pairs (first level on a tie). The
same factors always give the same rows, so test ids are stable. `allowed` rules out combinations that are not
valid inputs (it sees a partial row: factor name -> level): those pairs, and pairs no full row can hold,
are not required, and no row holds one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from typing import Any

Pair = tuple[int, int, int, int]  # (factor a, level of a, factor b, level of b) with a < b
Allowed = Callable[[Mapping[str, Any]], bool]


def pairwise_rows(
    factors: Mapping[str, Sequence[Any]], allowed: Allowed | None = None
) -> list[dict[str, Any]]:
    """Rows (factor name -> level) covering every allowed pair of levels."""
    names = list(factors)
    sizes = [len(factors[n]) for n in names]
    if any(s == 0 for s in sizes):
        raise ValueError("every factor needs at least one level")
    ok = allowed or (lambda _row: True)
    if len(names) < 2:  # no pairs to cover: one row per allowed level
        return [{n: lv} for n in names for lv in factors[n] if ok({n: lv})]

    def named(row: Mapping[int, int]) -> dict[str, Any]:
        return {names[f]: factors[names[f]][lv] for f, lv in sorted(row.items())}

    ordered = [
        (a, i, b, j)
        for a, b in combinations(range(len(names)), 2)
        for i in range(sizes[a])
        for j in range(sizes[b])
        if ok(named({a: i, b: j}))
    ]
    uncovered = set(ordered)

    def gain(row: Mapping[int, int], factor: int, level: int) -> int:
        return sum(
            (
                (
                    min(f, factor),
                    row[f] if f < factor else level,
                    max(f, factor),
                    level if f < factor else row[f],
                )
            )
            in uncovered
            for f in row
        )

    rows: list[dict[int, int]] = []
    while uncovered or not rows:
        a, ia, b, ib = next((p for p in ordered if p in uncovered), (0, 0, 0, 0))
        row: dict[int, int] | None = {a: ia, b: ib}
        for f in range(len(names)):
            if row is None or f in row:
                continue
            levels = [lv for lv in range(sizes[f]) if ok(named({**row, f: lv}))]
            # no level completes it: the pair is allowed alone but not in any full row (drop it)
            row = {**row, f: max(levels, key=lambda lv, f=f: (gain(row, f, lv), -lv))} if levels else None
        if row is None:
            uncovered.discard((a, ia, b, ib))
            continue
        for x, y in combinations(sorted(row), 2):
            uncovered.discard((x, row[x], y, row[y]))
        rows.append(row)
    return [named(row) for row in rows]

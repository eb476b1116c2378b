"""How fast the render tier is: renders/s (helm 4 and helm 3), validations/s, and the unit tier's wall time.

Figures:
  - renders/s: `helm template` of every preset in turn (the harness's render_chart, no cache), per helm major;
  - validations/s: rendered objects validated strictly (kubernetes-validate schemas and CRDs), with schemas
    already loaded but no memoised results (the matrix memoises identical objects; this is the raw rate);
  - unit tier: wall time of `pytest -m unit -n 2 tests` as `make unit` runs it (the whole tier, every area),
    and of the chart part alone (tests/chart), each a cold run (fresh render cache).
Ratios are printed against benchmarks/baseline/chart.json (written with --write-baseline). For times a
ratio below 1 is faster; for rates above 1 is faster. Nothing is asserted: the target (unit tier under
120 s on this 2-core machine) is reported as met or not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chart_harness import validate
from chart_harness.matrix import preset_bases
from chart_harness.render import ROOT, render_chart
from chart_harness.versions import kube_minors, kube_version

BASELINE = Path(__file__).parent / "baseline" / "chart.json"
UNIT_TARGET_S = 120.0
# (key, label, unit, higher is better)
FIGURES = [
    ("renders_per_s_helm4", "renders/s, helm 4", "/s", True),
    ("renders_per_s_helm3", "renders/s, helm 3", "/s", True),
    ("validations_per_s", "validations/s", "/s", True),
    ("chart_tests_s", "chart tests (tests/chart, -n 2)", "s", False),
    ("unit_tier_s", "unit tier (make unit: -m unit -n 2)", "s", False),
]


def renders_per_s(helm: str, rounds: int) -> float:
    presets = [b.path for b in preset_bases()]
    minor = kube_version(kube_minors()[-1])
    render_chart(values_files=[presets[0]], kube_version=minor, helm=helm)  # warm the page cache
    start = time.perf_counter()
    for _ in range(rounds):
        for preset in presets:
            render_chart(values_files=[preset], kube_version=minor, helm=helm)
    return rounds * len(presets) / (time.perf_counter() - start)


def validations_per_s(rounds: int) -> float:
    minor = kube_minors()[-1]
    objects = [
        o
        for b in preset_bases()
        for o in render_chart(values_files=[b.path], kube_version=kube_version(minor)).objects
    ]
    for o in objects:  # load every schema once: the rate measured is validation, not file reading
        validate.errors(o, minor)
    start = time.perf_counter()
    for _ in range(rounds):
        validate._memo.clear()
        for o in objects:
            validate.errors(o, minor)
    return rounds * len(objects) / (time.perf_counter() - start)


def pytest_wall(paths: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="chart-bench-") as cache:
        env = {**os.environ, "CHART_RENDER_CACHE": cache}
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "unit",
            "-n",
            "2",
            "-q",
            "-p",
            "no:cacheprovider",
            *paths,
        ]
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
    tail = proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"  pytest {' '.join(paths)}: exit {proc.returncode}, {tail[0]}", flush=True)
    return wall


def measure(rounds: int, with_unit: bool) -> dict[str, float]:
    out = {
        "renders_per_s_helm4": renders_per_s("helm", rounds),
        "renders_per_s_helm3": renders_per_s("helm3", rounds),
        "validations_per_s": validations_per_s(rounds * 5),
    }
    if with_unit:
        out["chart_tests_s"] = pytest_wall(["tests/chart"])
        out["unit_tier_s"] = pytest_wall(["tests"])
    return out


def report(now: dict[str, float], baseline: dict[str, float]) -> None:
    print(f"{'figure':40} {'now':>12} {'baseline':>12} {'ratio':>8}")
    for key, label, unit, _higher in FIGURES:
        if key not in now:
            continue
        base = baseline.get(key)
        ratio = f"{now[key] / base:8.2f}" if base else f"{'-':>8}"
        base_text = f"{base:10.1f}{unit:>2}" if base else f"{'-':>12}"
        print(f"{label:40} {now[key]:10.1f}{unit:>2} {base_text} {ratio}")
    if "unit_tier_s" in now:
        verdict = "met" if now["unit_tier_s"] < UNIT_TARGET_S else "NOT met"
        print(f"target: unit tier under {UNIT_TARGET_S:.0f} s on this machine: {verdict}")
    print(
        f"(rates: ratio > 1 is faster; times: ratio < 1 is faster; load average now {os.getloadavg()[0]:.1f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="passes over the presets per render figure")
    parser.add_argument("--no-unit", action="store_true", help="skip the two pytest wall-time runs")
    parser.add_argument("--write-baseline", action="store_true", help=f"store this run in {BASELINE.name}")
    args = parser.parse_args(argv)
    now = measure(args.rounds, with_unit=not args.no_unit)
    baseline = json.loads(BASELINE.read_text())["figures"] if BASELINE.is_file() else {}
    report(now, baseline)
    if args.write_baseline:
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version(),
        }
        BASELINE.write_text(json.dumps({**meta, "figures": now}, indent=2) + "\n")
        print(f"baseline written: {BASELINE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

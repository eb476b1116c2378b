"""Write (or, with --check, verify) the README values table generated from the chart's values.yaml.

python -m chart_harness.values_table        # rewrite the block between the README markers
python -m chart_harness.values_table --check  # exit 1 and print a diff when README is out of date
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from chart_harness.render import CHART_DIR, ROOT
from chart_harness.values_docs import rows, splice, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail on a difference instead of writing")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    current = args.readme.read_text()
    wanted = splice(current, table(rows(CHART_DIR / "values.yaml", CHART_DIR / "values.schema.json")))
    if current == wanted:
        return 0
    if args.check:
        diff = difflib.unified_diff(
            current.splitlines(), wanted.splitlines(), "README.md", "generated", lineterm=""
        )
        print("\n".join(diff))
        print("README values table is out of date: run `make docs`", file=sys.stderr)
        return 1
    args.readme.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())

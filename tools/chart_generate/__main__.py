"""Write the chart's generated files (what `make generate` runs before `make examples`):

charts/vllm-inference/values.schema.json   gpu.type and model.quantization enums, removed keys (in place)
charts/vllm-inference/files/sizing.yaml    the size check's figures, from the memory model
charts/vllm-inference/README.md            from README.md.gotmpl, values.yaml and the catalogue

python -m chart_generate                 # write them
python -m chart_generate --check         # exit 1, naming the stale files, when one differs
python -m chart_generate --chart DIR     # another copy of the chart (the catalogue is the imported one)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chart_generate.files import CHART_DIR, expected, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chart_generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--chart", type=Path, default=CHART_DIR, help="chart directory (default: %(default)s)"
    )
    parser.add_argument("--check", action="store_true", help="fail on a difference instead of writing")
    args = parser.parse_args(argv)
    want = expected(args.chart)
    if args.check:
        for path in stale(want):
            print(f"{path}: differs from what `make generate` writes", file=sys.stderr)
        return 1 if stale(want) else 0
    for path, text in want.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

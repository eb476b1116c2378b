"""The fidelity bench's primary figures predict each row from its workload spec, never from the row's own
measured latencies; and the calibration data it reads is in the repository (a fresh clone has it)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import fidelity_data  # noqa: E402  (benchmarks/ is not a package)
from fidelity_data import (  # noqa: E402
    DEFAULT_DATA,
    MEASURED,
    PROMPT_EXTRA_TOKENS,
    PROTOCOL,
    SPEC,
    load_experiments,
)


def test_the_calibration_data_and_its_provenance_are_vendored() -> None:
    assert DEFAULT_DATA == ROOT / "benchmarks" / "data" / "groundtruth" / "calibration.csv"
    with DEFAULT_DATA.open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 119
    readme = (DEFAULT_DATA.parent / "README.md").read_text(encoding="utf-8")
    assert "inference-sim/sim-to-real-accuracy-validation" in readme


def test_a_rows_workload_comes_from_its_spec_and_not_its_measured_latencies() -> None:
    experiments, excluded = load_experiments(DEFAULT_DATA)
    assert PROTOCOL == SPEC
    assert [row for row, _ in excluded] == [99, 100]  # no published arrival rate
    rows = {int(x["row_id"]): x for x in csv.DictReader(DEFAULT_DATA.open(encoding="utf-8"))}
    for exp in experiments:
        workload = exp.workload(SPEC)
        for observed in exp.rows:
            spec = rows[observed.row_id]
            assert workload.prompts.output_tokens == int(spec["spec_output_tokens"])
            assert workload.prompts.prompt_tokens == int(spec["spec_input_tokens"]) + PROMPT_EXTRA_TOKENS
            if observed.stage != "summary":
                stage = workload.stages[int(observed.stage)]
                assert (stage.rate, stage.duration) == (float(spec["rate_rps"]), float(spec["duration_s"]))


def test_the_measured_output_column_differs_where_the_clients_count_did() -> None:
    experiments, _ = load_experiments(DEFAULT_DATA)
    llama2 = next(e for e in experiments if e.model == "meta-llama/Llama-2-7b-hf")
    assert llama2.output_tokens(SPEC) == 1448
    assert llama2.output_tokens(MEASURED) == 1120  # (E2E - TTFT) / ITL + 1 of its own row
    assert fidelity_data.simulate.__defaults__ == (None, SPEC)

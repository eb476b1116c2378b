"""The chart the planner reads defaults from: a directory, a packaged .tgz, or $VLLM_PLAN_CHART; none named
means the values file alone, said once on stderr (never a silent look-up in the source tree)."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from plan_paths import CHART, CHART_ARGS, PRESETS, ROOT

from chart_harness.render import helm_binary
from vllm_plan.chart_source import CHART_ENV

L4_PRESET = ROOT / "values" / "l4-llama-3.1-8b.yaml"


def _package(chart_dir: Path, out: Path) -> Path:
    """The chart as `helm package` lays it out: `<name>/...` inside a gzipped tar."""
    name = yaml.safe_load((chart_dir / "Chart.yaml").read_text())["name"]
    tgz = out / f"{name}-0.0.0-test.tgz"
    with tarfile.open(tgz, "w:gz") as archive:
        archive.add(chart_dir, arcname=name)
    return tgz


def _chart_copy(tmp_path: Path, **defaults: object) -> Path:
    """A copy of the chart whose values.yaml sets `section.key` defaults, to tell the chart's values apart."""
    copy = tmp_path / "chart" / "vllm-inference"
    shutil.copytree(CHART, copy)
    values = yaml.safe_load((copy / "values.yaml").read_text())
    for dotted, value in defaults.items():
        section, key = dotted.split("__")
        values[section][key] = value
    (copy / "values.yaml").write_text(yaml.safe_dump(values))
    return copy


def _gpu_only_values(tmp_path: Path) -> Path:
    path = tmp_path / "gpu-only.yaml"
    path.write_text("gpu:\n  type: L4\n")
    return path


def test_a_chart_directory_and_its_packaged_tgz_give_the_same_plan(plan, tmp_path: Path) -> None:
    from_dir = plan("fit", "--chart", str(CHART), "--values", str(L4_PRESET), "--json")
    tgz = _package(CHART, tmp_path)
    from_tgz = plan("fit", "--chart", str(tgz), "--values", str(L4_PRESET), "--json")
    assert from_dir.code == from_tgz.code == 0
    assert from_dir.err == from_tgz.err == ""
    assert from_dir.json() == from_tgz.json()


@pytest.mark.parametrize("helm", ["helm", "helm3"])
def test_a_chart_packaged_by_helm_gives_the_same_plan_as_its_directory(
    plan, tmp_path: Path, helm: str
) -> None:
    subprocess.run(
        [helm_binary(helm), "package", str(CHART), "--destination", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (tgz,) = tmp_path.glob("vllm-inference-*.tgz")
    packaged = plan("fit", "--chart", str(tgz), "--values", str(L4_PRESET), "--json")
    assert packaged.err == ""
    assert packaged.json() == plan("fit", *CHART_ARGS, "--values", str(L4_PRESET), "--json").json()


def test_the_charts_defaults_fill_what_the_values_file_leaves_out(plan, tmp_path: Path) -> None:
    chart_model = yaml.safe_load((CHART / "values.yaml").read_text())["model"]["name"]
    run = plan("fit", *CHART_ARGS, "--values", str(_gpu_only_values(tmp_path)), "--json")
    assert run.code == 0, run.err
    assert run.json()["model"] == chart_model


def test_a_packaged_chart_is_read_from_the_archive_not_the_checkout(plan, tmp_path: Path) -> None:
    tgz = _package(
        _chart_copy(tmp_path, model__name="Qwen/Qwen2.5-7B-Instruct", vllm__maxNumSeqs=7), tmp_path
    )
    report = plan("fit", "--chart", str(tgz), "--values", str(_gpu_only_values(tmp_path)), "--json").json()
    assert (report["model"], report["max_num_seqs"]) == ("Qwen/Qwen2.5-7B-Instruct", 7)


def test_the_chart_alone_plans_its_defaults_with_flags_over_them(plan, tmp_path: Path) -> None:
    chart = _chart_copy(tmp_path, gpu__type="T4", vllm__maxNumSeqs=9)
    report = plan("fit", "--chart", str(chart), "--max-num-seqs", "5", "--json").json()
    assert (report["gpu"], report["max_num_seqs"]) == ("T4", 5)


def test_the_environment_names_the_chart_and_the_flag_wins_over_it(
    plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = str(_gpu_only_values(tmp_path))
    monkeypatch.setenv(CHART_ENV, str(_package(_chart_copy(tmp_path, vllm__maxNumSeqs=11), tmp_path)))
    from_env = plan("fit", "--values", values, "--json")
    assert from_env.err == "" and from_env.json()["max_num_seqs"] == 11
    from_flag = plan("fit", *CHART_ARGS, "--values", values, "--json")
    assert from_flag.json()["max_num_seqs"] != 11


def test_a_values_file_without_a_chart_warns_once_and_reads_the_file_alone(plan, tmp_path: Path) -> None:
    run = plan("fit", "--values", str(L4_PRESET), "--json")
    assert run.code == 0
    lines = run.err.splitlines()
    assert len(lines) == 1 and "warning" in lines[0]
    assert "without the chart's defaults" in lines[0] and "--chart" in lines[0] and CHART_ENV in lines[0]
    # Without the chart nothing supplies model.name: proof that no chart was found behind the user's back.
    missing = plan("fit", "--values", str(_gpu_only_values(tmp_path)))
    assert missing.code == 2 and "error: --model (values: model.name) is required" in missing.err


def test_flags_alone_need_no_chart_and_print_no_warning(plan) -> None:
    run = plan("fit", "--model", "Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "L4", "--json")
    assert run.code == 0 and run.err == ""


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_plans_the_same_over_the_packaged_chart(plan, tmp_path: Path, preset: Path) -> None:
    tgz = _package(CHART, tmp_path)
    over_dir = plan("fit", *CHART_ARGS, "--values", str(preset), "--json").json()
    assert plan("fit", "--chart", str(tgz), "--values", str(preset), "--json").json() == over_dir


def _not_a_chart_dir(tmp_path: Path) -> Path:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "values.yaml").write_text("gpu: {type: L4}\n")
    return tmp_path / "plain"


def _not_an_archive(tmp_path: Path) -> Path:
    path = tmp_path / "chart.tgz"
    path.write_text("not a tarball")
    return path


def _archive_without_a_chart(tmp_path: Path) -> Path:
    path = tmp_path / "empty.tgz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(_not_a_chart_dir(tmp_path), arcname="plain")
    return path


def _bad_chart_values(tmp_path: Path) -> Path:
    copy = _chart_copy(tmp_path)
    (copy / "values.yaml").write_text("model: [unclosed\n")
    return copy


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda tmp: tmp / "absent", "no such chart directory or packaged chart"),
        (_not_a_chart_dir, "not a chart directory (no Chart.yaml)"),
        (_not_an_archive, "not a chart directory or a packaged chart (.tgz)"),
        (_archive_without_a_chart, "one top-level chart directory with a Chart.yaml (found: none)"),
        (_bad_chart_values, "not valid YAML"),
    ],
    ids=["missing", "directory-without-chart-yaml", "not-an-archive", "archive-without-a-chart", "bad-yaml"],
)
def test_a_bad_chart_is_refused_naming_the_flag(plan, tmp_path: Path, make, said: str) -> None:
    chart = make(tmp_path)
    run = plan("fit", "--chart", str(chart), "--values", str(L4_PRESET))
    assert run.code == 2 and run.out == ""
    assert f"error: --chart {chart}" in run.err and said in run.err


def test_a_bad_chart_from_the_environment_is_refused_naming_the_variable(
    plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHART_ENV, str(tmp_path / "absent"))
    run = plan("fit", "--values", str(L4_PRESET))
    assert run.code == 2
    assert f"error: {CHART_ENV} {tmp_path / 'absent'}" in run.err

"""`vllm-plan` fit answers: the seed's T4 recipe, every shipped preset, bad input, the values snippet."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from plan_paths import CHART_ARGS, CHART_VALUES, PRESETS, ROOT, SEED_T4

from vllm_model.catalog import GIB


def test_seed_recipe_mistral_7b_fp16_on_a_t4_does_not_fit_and_says_why(plan) -> None:
    run = plan("fit", *SEED_T4, "--dtype", "float16", "--json")
    assert run.code == 1
    report = run.json()
    assert report["fits"] is False
    assert "No available memory for the cache blocks" in report["reason"]
    assert report["weights_bytes"] > 13 * GIB  # fp16 weights alone nearly fill the 15 GiB card
    assert report["kv_tokens"] == 0
    assert report["max_num_seqs_recommended"] is None


def test_seed_recipe_table_names_the_refusal(plan) -> None:
    run = plan("fit", *SEED_T4, "--dtype", "float16")
    assert run.code == 1
    assert "DOES NOT FIT: ValueError: No available memory for the cache blocks" in run.out


def test_seed_rule_of_thumb_32_sequences_holds_for_awq_only_up_to_about_2k_tokens(plan) -> None:
    """The recipe's "max_num_seqs=32 on a T4 for a 7B model": only an AWQ build fits, and 32 sequences fit
    at a 2048-token context but not at the full 4096 (there the KV cache holds fewer, so 32 preempts)."""
    awq = ["--model", "TheBloke/Mistral-7B-Instruct-v0.2-AWQ", "--gpu", "T4", "--max-model-len", "4096"]
    full = plan("fit", *awq, "--dtype", "half", "--max-num-seqs", "32", "--json")
    half = plan("fit", *awq, "--dtype", "half", "--max-num-seqs", "32", "--context-length", "2048", "--json")
    assert full.code == 0 and half.code == 0
    assert full.json()["fits"] is True
    assert full.json()["sequences_at_context"] < 32 <= half.json()["sequences_at_context"]
    assert any("exceeds" in w for w in full.json()["warnings"])
    assert half.json()["warnings"] == []


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_values_preset_fits_its_gpu(plan, preset: Path) -> None:
    run = plan("fit", *CHART_ARGS, "--values", str(preset), "--json")
    assert run.err == ""
    report = run.json()
    assert report["fits"] is True, f"{preset.name}: {report['reason']}"
    assert run.code == 0
    assert report["kv_tokens"] >= report["max_model_len"] or report["kv_bytes_per_token"] == 0


def test_presets_exist_to_be_checked() -> None:
    assert PRESETS, "values/*.yaml is empty: the preset matrix above checks nothing"


def test_flags_override_the_values_file(plan) -> None:
    run = plan("fit", *CHART_ARGS, "--values", str(PRESETS[0]), "--max-model-len", "1024", "--json")
    assert run.json()["max_model_len"] == 1024


MISTRAL_L4 = ["--model", "mistralai/Mistral-7B-Instruct-v0.2", "--gpu", "L4"]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--model", "mistralai/Mistral-7B-Instruct-v0.2", "--gpu", "T5"], "--gpu"),
        (["--model", "no/such-model", "--gpu", "T4"], "--model"),
        ([*MISTRAL_L4, "--dtype", "fp17"], "--dtype"),
        ([*MISTRAL_L4, "--quantization", "q9"], "--quantization"),
        ([*MISTRAL_L4, "--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization"),
        ([*MISTRAL_L4, "--max-model-len", "zero"], "--max-model-len"),
        ([*MISTRAL_L4, "--max-model-len", "2048", "--context-length", "4096"], "--context-length"),
        (["--gpu", "L4"], "--model"),
        (["--model", "mistralai/Mistral-7B-Instruct-v0.2"], "--gpu"),
    ],
)
def test_bad_input_exits_2_naming_the_flag(plan, argv: list[str], named: str) -> None:
    run = plan("fit", *argv)
    assert run.code == 2
    assert "usage: vllm-plan" in run.err
    assert re.search(rf"error: (argument )?{named}\b", run.err), run.err


def test_bad_values_file_setting_is_named_by_its_chart_key(plan, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  maxModelLen: lots\ngpu:\n  type: L4\n")
    run = plan("fit", *CHART_ARGS, "--values", str(bad))
    assert run.code == 2
    assert "`model.maxModelLen` must be of type int" in run.err


QWEN_L4 = ["--model", "Qwen/Qwen2.5-0.5B-Instruct", "--gpu", "L4", "--max-model-len", "1024", "--json"]


OVERRIDE = "--num-gpu-blocks-override"


@pytest.mark.parametrize("extra_args", [[f"{OVERRIDE}=64"], [OVERRIDE, "64"]])
def test_a_block_count_override_in_extra_args_sizes_the_cache_as_the_flag_does(
    plan, tmp_path: Path, extra_args: list[str]
) -> None:
    """vLLM's --num-gpu-blocks-override replaces the block count whatever the memory leaves; the chart
    passes it in vllm.extraArgs (either spelling), so the planner reads it there and from its own flag."""
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"vllm": {"extraArgs": ["--enable-prefix-caching", *extra_args]}}))
    from_values = plan("fit", *CHART_ARGS, "--values", str(values), *QWEN_L4).json()
    from_flag = plan("fit", *QWEN_L4, OVERRIDE, "64").json()
    default = plan("fit", *QWEN_L4).json()
    assert from_values["kv_blocks"] == from_flag["kv_blocks"] == 64
    assert from_values["kv_tokens"] == 1024 and default["kv_blocks"] > 64 * 100


def test_values_files_layer_in_order_as_helm_install_f_does(plan, tmp_path: Path) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(yaml.safe_dump({"model": {"maxModelLen": 2048}, "vllm": {"maxNumSeqs": 16}}))
    second.write_text(yaml.safe_dump({"model": {"maxModelLen": 1024}}))
    layered = ["--values", str(PRESETS[0]), "--values", str(first), "--values", str(second), "--json"]
    report = plan("fit", *CHART_ARGS, *layered).json()
    assert (report["max_model_len"], report["max_num_seqs"]) == (1024, 16)  # the last wins, the rest stays


def test_a_block_count_override_that_is_not_a_positive_integer_is_named(plan, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"vllm": {"extraArgs": ["--num-gpu-blocks-override=lots"]}}))
    run = plan("fit", *CHART_ARGS, "--values", str(values), *QWEN_L4)
    assert run.code == 2
    assert "`vllm.extraArgs` --num-gpu-blocks-override needs a positive integer, not 'lots'" in run.err


def test_a_local_config_json_is_planned_like_the_catalogue_entry(plan, tmp_path: Path) -> None:
    config = {  # Mistral-7B's config.json shape
        "architectures": ["MistralForCausalLM"],
        "num_hidden_layers": 32,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 32000,
        "max_position_embeddings": 32768,
        "torch_dtype": "bfloat16",
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    local = plan("fit", "--model", str(path), "--gpu", "L4", "--max-model-len", "4096", "--json").json()
    catalogue = plan(
        "fit",
        "--model",
        "mistralai/Mistral-7B-Instruct-v0.2",
        "--gpu",
        "L4",
        "--max-model-len",
        "4096",
        "--json",
    ).json()
    assert local["kv_bytes_per_token"] == catalogue["kv_bytes_per_token"] == 128 * 1024
    assert local["weights_bytes"] == pytest.approx(catalogue["weights_bytes"], rel=0.02)


def _has_key(values: dict, dotted: list[str]) -> bool:
    node = values
    for part in dotted:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _leaf_paths(tree: dict, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    paths = []
    for key, value in tree.items():
        if isinstance(value, dict):
            paths += _leaf_paths(value, (*prefix, key))
        else:
            paths.append([*prefix, key])
    return paths


def test_values_snippet_uses_the_charts_own_key_names(plan) -> None:
    awq_t4 = ["--model", "TheBloke/Mistral-7B-Instruct-v0.2-AWQ", "--gpu", "T4", "--max-model-len", "4096"]
    awq_t4 += ["--dtype", "half", "--quantization", "awq", "--context-length", "1024"]
    run = plan("fit", *awq_t4, "--values-snippet")
    assert run.code == 0
    snippet = yaml.safe_load(run.out)
    chart = yaml.safe_load(CHART_VALUES.read_text())
    for path in _leaf_paths(snippet):
        assert _has_key(chart, path), f"{'.'.join(path)} is not a key of the chart's values.yaml"
    assert snippet["vllm"]["maxNumSeqs"] == plan("fit", *awq_t4, "--json").json()["sequences_at_context"]


def _documented_check(preset: Path) -> list[str] | None:
    """The `Check: vllm-plan ...` command a preset's header documents, as an argument list."""
    match = re.search(r"Check: vllm-plan (.+)$", preset.read_text(), re.MULTILINE)
    return match.group(1).split() if match else None


CHECKED_AT_A_CONTEXT = [p for p in PRESETS if "--context-length" in (_documented_check(p) or [])]


@pytest.mark.parametrize("preset", CHECKED_AT_A_CONTEXT, ids=[p.stem for p in CHECKED_AT_A_CONTEXT])
def test_presets_max_num_seqs_fits_the_kv_cache_at_their_documented_context(
    plan, preset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = _documented_check(preset)
    assert argv is not None and f"values/{preset.name}" in argv, (
        f"{preset.name} documents another preset's check"
    )
    monkeypatch.chdir(ROOT)  # the documented command, exactly as written, from the checkout's root
    run = plan(*argv, "--json")
    assert run.err == "", run.err
    report = run.json()
    assert report["fits"] is True
    assert report["max_num_seqs"] <= report["sequences_at_context"], report["warnings"]


def test_the_installed_console_script_exits_1_with_json_for_the_seed_recipe() -> None:
    script = Path(sys.executable).parent / "vllm-plan"
    done = subprocess.run(
        [str(script), "fit", *SEED_T4, "--dtype", "float16", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["fits"] is False


def test_a_missing_values_file_is_named_by_its_flag(plan, tmp_path: Path) -> None:
    run = plan("fit", *CHART_ARGS, "--values", str(tmp_path / "absent.yaml"))
    assert run.code == 2
    assert "error: --values" in run.err and "absent.yaml" in run.err

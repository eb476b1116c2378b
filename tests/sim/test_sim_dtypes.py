"""`--dtype` and `--kv-cache-dtype`: every spelling the simulator's flag accepts is one the shared catalogue
sizes (src/vllm_model/catalog/dtypes.yaml); a spelling vLLM's CLI does not take is refused as vLLM does."""

from __future__ import annotations

import pytest
from sim_helpers import QWEN

from vllm_model.catalog import canonical_dtype, resolve_model
from vllm_sim.args import build_parser, parse_serve_args
from vllm_sim.serve_plan import plan_from_args, read_env


def _choices(flag: str) -> list[str]:
    """The choices the simulator's own parser gives `flag`."""
    for action in build_parser()._actions:
        if flag in action.option_strings:
            assert action.choices is not None, f"{flag} takes any value"
            return list(action.choices)
    raise AssertionError(f"the simulator has no {flag}")


def _started(*flags: str):
    args = parse_serve_args([QWEN, "--max-model-len", "4096", *flags])
    return plan_from_args(args, resolve_model(args.model), read_env({"VLLM_SIM_GPU": "H100-80GB"}))


def test_the_dtype_flag_takes_exactly_vllms_spellings() -> None:
    assert _choices("--dtype") == ["auto", "half", "float16", "bfloat16", "float", "float32"]


@pytest.mark.parametrize("dtype", _choices("--dtype"))
def test_every_accepted_dtype_starts_with_the_dtype_it_names(dtype: str) -> None:
    plan = _started("--dtype", dtype)
    assert plan.fits
    assert plan.dtype == ("bfloat16" if dtype == "auto" else canonical_dtype(dtype))  # Qwen's own: bf16


@pytest.mark.parametrize("kv_dtype", _choices("--kv-cache-dtype"))
def test_every_accepted_kv_cache_dtype_sizes_the_cache(kv_dtype: str) -> None:
    plan = _started("--kv-cache-dtype", kv_dtype)
    assert plan.fits and plan.kv_cache_dtype == kv_dtype
    bf16 = _started().kv_bytes_per_token
    assert plan.kv_bytes_per_token == (bf16 // 2 if kv_dtype.startswith("fp8") else bf16)


@pytest.mark.parametrize("spelling", ["bf16", "fp16", "int8"])
def test_a_dtype_vllms_cli_does_not_take_exits_2(spelling: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_serve_args([QWEN, "--dtype", spelling])
    assert exc.value.code == 2
    assert f"argument --dtype: invalid choice: '{spelling}'" in capsys.readouterr().err

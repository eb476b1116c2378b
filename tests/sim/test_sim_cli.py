"""`vllm serve` command line and startup: vLLM's flags, vLLM's failures, port opening after load."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sim_helpers import QWEN, TINY_MOE_CONFIG, call, run_sim, start_sim

from vllm_model.catalog import GIB, get_gpu, load_hf_config
from vllm_model.memory import plan_memory
from vllm_sim.args import ignored_flags, parse_serve_args
from vllm_sim.cli import main


@pytest.fixture
def serve(monkeypatch, capsys):
    """Run `vllm serve ...` in-process up to where it would open the port; returns (status, stderr)."""

    def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        monkeypatch.setenv("VLLM_SIM_GPU", "L4")
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        status = main(list(argv))
        return status, capsys.readouterr().err

    return run


def test_misspelled_flag_exits_2_with_vllms_argparse_message(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", QWEN, "--max-num-seq", "8"])
    assert exc.value.code == 2
    assert "vllm serve: error: unrecognized arguments: --max-num-seq" in capsys.readouterr().err


def test_flag_prefixes_are_not_abbreviations():
    with pytest.raises(SystemExit) as exc:
        parse_serve_args([QWEN, "--gpu-memory", "0.5"])
    assert exc.value.code == 2


def test_model_can_be_positional_or_flag_and_underscores_are_accepted():
    assert parse_serve_args([QWEN]).model == QWEN
    args = parse_serve_args(["--model", QWEN, "--max_num_seqs=8", "--max-model-len", "4K"])
    assert (args.model, args.max_num_seqs, args.max_model_len) == (QWEN, 8, 4096)
    assert parse_serve_args([QWEN, "--max-model-len", "32k"]).max_model_len == 32000


def test_prefix_caching_is_on_unless_turned_off():
    assert parse_serve_args([QWEN]).enable_prefix_caching is None  # unset: vLLM's default (on)
    assert parse_serve_args([QWEN, "--no-enable-prefix-caching"]).enable_prefix_caching is False
    assert parse_serve_args([QWEN, "--enable-prefix-caching"]).enable_prefix_caching is True


def test_every_real_vllm_flag_in_the_catalogue_is_accepted():
    flags = ignored_flags()
    argv = [QWEN]
    for name in flags["bool"]:
        argv += [f"--{name}", f"--no-{name}"]
    for name in flags["value"]:
        argv += [f"--{name}", "1"]
    for name in flags["list"]:
        argv += [f"--{name}", "a", "b"]
    args = parse_serve_args(
        [*argv, "--served-model-name", "x", "y", "--lora-modules", "a=/l/a", "--seed", "3"]
    )
    assert args.model == QWEN and args.served_model_name == ["x", "y"] and args.lora_modules[0]["name"] == "a"


def test_config_file_supplies_flags_and_the_command_line_wins(tmp_path):
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("max_num_seqs: 8\nenable_prefix_caching: false\nmax-model-len: 2048\n")
    args = parse_serve_args([QWEN, "--config", str(cfg), "--max-num-seqs", "4"])
    assert (args.max_num_seqs, args.enable_prefix_caching, args.max_model_len) == (4, False, 2048)


@pytest.mark.parametrize(
    ("gpu", "flags", "message"),
    [
        (
            "T4",
            [
                "mistralai/Mistral-7B-Instruct-v0.2",
                "--dtype",
                "half",
                "--max-model-len",
                "4096",
                "--gpu-memory-utilization",
                "0.9",
            ],
            "ValueError: No available memory for the cache blocks.",
        ),
        (
            "T4",
            [QWEN, "--dtype", "bfloat16"],
            "ValueError: Bfloat16 is only supported on GPUs with compute capability",
        ),
        (
            "L4",
            ["Qwen/Qwen2.5-7B-Instruct", "--tensor-parallel-size", "8", "--max-model-len", "4096"],
            "Total number of attention heads (28) must be divisible by tensor parallel size (8).",
        ),
        ("L4", ["meta-llama/Llama-3.1-8B-Instruct"], "is larger than the available KV cache memory"),
        ("L4", ["meta-llama/Llama-3.1-70B-Instruct", "--max-model-len", "4096"], "torch.OutOfMemoryError"),
        ("L4", ["no-such/model"], "OSError: no-such/model is not a local folder"),
        ("H200", [QWEN, "--gpu-memory-utilization", "1.5"], "gpu_memory_utilization"),
    ],
)
def test_startup_fails_where_vllm_fails_with_vllms_message(serve, gpu, flags, message):
    status, err = serve("serve", *flags, env={"VLLM_SIM_GPU": gpu})
    assert status == 1
    assert message in err


def test_a_refused_start_is_a_non_zero_exit_of_the_real_process():
    result = run_sim("serve", QWEN, "--dtype", "bfloat16", env={"VLLM_SIM_GPU": "T4"})
    assert result.returncode == 1 and "EngineCore failed to start" in result.stderr


def test_unknown_simulated_gpu_names_the_variable(serve):
    status, err = serve("serve", QWEN, env={"VLLM_SIM_GPU": "B300"})
    assert status == 1 and "VLLM_SIM_GPU" in err and "B300" in err


def test_kubernetes_service_link_vllm_port_crashes_like_vllm(serve):
    status, err = serve("serve", QWEN, env={"VLLM_PORT": "tcp://198.19.0.10:8000"})
    assert status == 1 and "appears to be a URI" in err


def test_tensor_parallel_beyond_visible_gpus_fails(serve):
    status, err = serve("serve", QWEN, "-tp", "2", env={"NVIDIA_VISIBLE_DEVICES": "GPU-0"})
    assert status == 1 and "World size (2) is larger than the number of available GPUs (1)" in err


def test_port_opens_only_after_the_simulated_load_time(tmp_path):
    sim = start_sim(tmp_path, "--max-model-len", "2048", env={"VLLM_SIM_LOAD_SECONDS": "1.5"}, wait=False)
    try:
        started = time.monotonic()
        time.sleep(0.7)
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", sim.port), timeout=0.5):
            pass
        sim.wait_ready()
        assert time.monotonic() - started >= 0.8  # 1.5 s of loading minus the time already slept
        assert "GPU KV cache size:" in sim.output()
    finally:
        sim.stop()


def test_vllm_top_level_command_needs_serve(serve):
    status, err = serve("generate", QWEN)
    assert status == 2 and "invalid choice: 'generate'" in err


def test_a_vllm_link_to_the_console_script_behaves_as_vllm_serve(tmp_path):
    """The image links `vllm` -> `vllm-sim`, so ENTRYPOINT ["vllm", "serve"] works like vllm/vllm-openai."""
    script = Path(sys.executable).parent / "vllm-sim"
    link = tmp_path / "vllm"
    link.symlink_to(script)
    result = subprocess.run(
        [str(link), "serve", QWEN, "--max-num-seq", "8"], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 2
    assert "vllm serve: error: unrecognized arguments: --max-num-seq" in result.stderr


def _weights_gib(path: Path) -> str:
    plan = plan_memory(load_hf_config(path), get_gpu("L4"), max_model_len=4096)
    return f"Model loading took {plan.weights_bytes / GIB:.4f} GiB memory"


def test_serve_takes_the_models_shapes_from_hf_config_path(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_MOE_CONFIG))
    sim = start_sim(
        tmp_path, "--hf-config-path", str(config), "--max-model-len", "4096", model="acme/tiny-moe"
    )
    try:
        models = json.loads(call(sim, "/v1/models")[1])
        assert [m["id"] for m in models["data"]] == ["acme/tiny-moe"]
        assert _weights_gib(config) in sim.output()
    finally:
        sim.stop()


def test_serve_reads_a_local_model_directory_like_vllm(tmp_path):
    model_dir = tmp_path / "tiny-moe"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(TINY_MOE_CONFIG))
    sim = start_sim(tmp_path, "--max-model-len", "4096", model=str(model_dir))
    try:
        assert _weights_gib(model_dir) in sim.output()
    finally:
        sim.stop()


def test_an_unreadable_hf_config_path_fails_the_start_naming_it(serve, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    status, err = serve("serve", "acme/tiny-moe", "--hf-config-path", str(bad))
    assert status == 1 and str(bad) in err

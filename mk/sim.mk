# vllm-sim: the GPU-free stand-in for `vllm serve` (src/vllm_sim, tests/sim, benchmarks/sim_bench.py,
# benchmarks/fidelity_bench.py).
.PHONY: test-sim bench-sim bench-fidelity sim-serve
BENCH_TARGETS += bench-sim bench-fidelity

test-sim: ## Simulator tests only (memory model, engine fidelity, CLI, API, metrics, shutdown, control)
	@$(PYTEST) -m unit $(XDIST) -q tests/sim

bench-sim: ## One simulator process on one core: concurrent streams, streamed tokens/s, p99 added latency
	@$(PY) benchmarks/sim_bench.py

bench-fidelity: ## Replay vs real vLLM (benchmarks/data/groundtruth): per-row and median errors, anchors, cross-validation, wall s per simulated hour
	@$(PY) benchmarks/fidelity_bench.py $(FIDELITY_ARGS)

sim-serve: ## Run the simulator locally (MODEL=..., VLLM_SIM_GPU=..., ARGS=...) on 127.0.0.1:8000
	@$(VENV)/bin/vllm-sim serve $${MODEL:-Qwen/Qwen2.5-0.5B-Instruct} --host 127.0.0.1 $(ARGS)

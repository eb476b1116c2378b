# Python code quality for everything under src/, tools/, benchmarks/ and tests/.
.PHONY: lint-python
LINT_TARGETS += lint-python

lint-python: ## ruff over src/, tools/, benchmarks/ and tests/
	@ruff check src tools benchmarks tests charts/vllm-inference/files/tests
	@ruff format --check src tools benchmarks tests charts/vllm-inference/files/tests

# Python code quality for everything under src/, tools/, benchmarks/ and tests/.
.PHONY: lint-python lint-types
LINT_TARGETS += lint-python lint-types

lint-python: ## ruff over src/, tools/, benchmarks/ and tests/
	@ruff check src tools benchmarks tests charts/vllm-inference/files/tests charts/vllm-inference/files/batch
	@ruff format --check src tools benchmarks tests charts/vllm-inference/files/tests charts/vllm-inference/files/batch

lint-types: ## mypy --strict over the products (src/; settings in pyproject.toml [tool.mypy])
	@mypy

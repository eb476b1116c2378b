# Python code quality for everything under scripts/ and tests/.
.PHONY: lint-python
LINT_TARGETS += lint-python

lint-python: ## ruff over scripts/ and tests/
	@ruff check scripts tests
	@ruff format --check scripts tests

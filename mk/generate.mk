# Everything derived from the one catalogue (src/vllm_model/catalog/*.yaml, through the memory model) and from
# the chart's values.yaml: written by `make generate`, diff-checked by `make verify-generated` (in `make lint`).
# Adding a GPU or a model is one catalogue edit followed by `make generate`.
.PHONY: generate verify-generated
LINT_TARGETS += verify-generated

GENERATED := $(CHART)/files/sizing.yaml $(CHART)/values.schema.json $(CHART)/README.md examples/rendered

generate: ## Write every generated file: sizing table, schema enums, chart README (tools/chart_generate), examples
	@$(PY) -m chart_generate
	@$(MAKE) --no-print-directory examples
	@echo "generated: $(GENERATED)"

verify-generated: ## make generate, then fail when a generated file differs from git's index (run make generate)
	@$(MAKE) --no-print-directory generate >/dev/null
	@git diff --exit-code --stat -- $(GENERATED) || { \
	  echo "generated files differ from what \`make generate\` writes: run make generate and commit the result"; \
	  exit 1; }
	@new=$$(git ls-files --others --exclude-standard -- $(GENERATED)); if [ -n "$$new" ]; then \
	  echo "untracked generated files: $$new"; echo "run make generate and commit the result"; exit 1; fi
	@echo "generated files: up to date"

# The chart's lint, rendered examples, render-tier tests, mutation check and benchmark (tools/chart_harness,
# tests/chart, docs/harness.md). The chart's unit tests run in `make unit` (tests/chart is collected with
# everything else), and so does the mutation check. Generated files (README, sizing, schema enums): mk/generate.mk.
.PHONY: lint-chart helm-lint ct-lint yamllint-chart examples examples-check test-chart bench-chart mutation-chart
LINT_TARGETS += lint-chart
UNIT_TARGETS += mutation-chart
BENCH_TARGETS += bench-chart

CHART_PRESETS := $(sort $(wildcard values/*.yaml))
CHART_CI_VALUES := $(sort $(wildcard $(CHART)/ci/*-values.yaml))

lint-chart: helm-lint ct-lint yamllint-chart ## Chart lint: helm lint --strict, ct lint, yamllint

helm-lint: ## helm lint --strict with the defaults, every preset and every ci values file
	@helm lint --strict --quiet $(CHART) >/dev/null
	@for f in $(CHART_PRESETS) $(CHART_CI_VALUES); do \
	  helm lint --strict --quiet $(CHART) -f $$f >/dev/null || { echo "helm lint --strict failed with $$f"; \
	  helm lint --strict $(CHART) -f $$f; exit 1; }; done
	@echo "helm lint --strict: ok ($(words $(CHART_PRESETS)) presets, $(words $(CHART_CI_VALUES)) ci files)"

ct-lint: ## chart-testing lint (ct.yaml: offline, no maintainer lookup, no version-increment check)
	@log=$$(mktemp); ct lint --config ct.yaml >$$log 2>&1 || { cat $$log; rm -f $$log; exit 1; }; \
	  rm -f $$log; echo "ct lint: ok"

yamllint-chart: ## yamllint (.yamllint) over the presets, the ci values files and the chart-testing config
	@yamllint -s values $(CHART)/ci ct.yaml .yamllint && echo "yamllint: ok"

examples: ## Regenerate examples/rendered/<preset>.yaml (review the diff, then commit)
	@$(PY) -m chart_harness.examples

examples-check: ## Fail when examples/rendered/ differs from what the presets render now
	@$(PY) -m chart_harness.examples --check

test-chart: ## Chart render tier only: matrix, schemas, invariants, toggles, helm 3 vs 4, examples, bad inputs
	@$(PYTEST) -m unit $(XDIST) -q tests/chart

bench-chart: ## Renders/s (helm 4 and 3), validations/s, and the wall time of the unit tier, vs the baseline
	@$(PY) benchmarks/chart_bench.py

mutation-chart: ## Break the chart on purpose (in a copy), one defect at a time; every mutation must be caught
	@$(PY) -m chart_harness.mutations

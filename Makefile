# vllm-inference: the Helm chart for vLLM on Kubernetes GPU pools, and its harness.
# `make help` lists the targets. Each area adds its own targets in mk/*.mk and registers them with the
# aggregate targets below through the LINT_TARGETS / UNIT_TARGETS / E2E_TARGETS / BENCH_TARGETS lists.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
TOOLS_BIN := $(ROOT)/.tools/bin
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
export PATH := $(TOOLS_BIN):$(VENV)/bin:$(PATH)
# Test support (the chart harness) is not packaged: it is imported from tools/.
export PYTHONPATH := $(ROOT)/tools
CHART := charts/vllm-inference
# pytest-xdist workers: one per CPU this machine gives us (nproc honours CPU affinity and cgroup quotas);
# override with `make unit PYTEST_WORKERS=1`.
PYTEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 1)
XDIST := -n $(PYTEST_WORKERS)

LINT_TARGETS :=
UNIT_TARGETS :=
E2E_TARGETS :=
BENCH_TARGETS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help tools tools-cluster lint unit e2e test bench

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Two tool tiers: lint and unit need only `tools`; the cluster tier (cluster-up, e2e, demo) adds
# `tools-cluster`, the one that builds Kubernetes.
tools: ## Lint/unit toolchain: .venv, helm 4 and 3, ct, CRDs, shellcheck, local OCI registry + gnupg (version-keyed cache; no Kubernetes build)
	@bash hack/install-tools.sh

tools-cluster: tools ## Cluster toolchain: Debian packages, Kubernetes, etcd, kwok, CoreDNS, kubectl, images
	@bash hack/install-tools.sh cluster

lint: tools $(LINT_TARGETS) ## Lint everything: helm lint --strict, ct lint, yamllint, ruff, mypy, shellcheck, generated files up to date

unit: tools $(UNIT_TARGETS) ## Unit tier: render matrix, schemas, invariants, bad inputs, simulator, planner
	@$(PYTEST) -m unit $(XDIST) -q tests

e2e: tools $(E2E_TARGETS) ## End-to-end tier against the local cluster (brings it up and down)

test: ## lint, unit and end-to-end tiers (what CI runs)
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e

bench: tools $(BENCH_TARGETS) ## Benchmarks: print figures and ratios against the committed baselines

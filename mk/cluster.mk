# The local Kubernetes cluster with simulated GPU node pools (hack/cluster, deploy/, docs/cluster.md): the
# cluster tier, the only one that builds Kubernetes (tools-cluster).
.PHONY: lint-cluster cluster-binaries cluster-images cluster-up cluster-down demo e2e-cluster ct-install
LINT_TARGETS += lint-cluster
E2E_TARGETS += e2e-cluster

lint-cluster: ## shellcheck over every script, ruff over hack/'s Python, yamllint over deploy/
	@bash hack/verify-shellcheck.sh
	@ruff check hack && ruff format --check hack
	@yamllint -s deploy tests/e2e/values .github && echo "lint-cluster: ok"

CLUSTER_KUBECONFIG := $(ROOT)/build/cluster/kubeconfig

cluster-binaries: ## Build Kubernetes, etcd, kwok, CoreDNS from the Go module proxy (cached by version)
	@bash hack/install-packages.sh cluster
	@bash hack/cluster/build-binaries.sh

cluster-images: tools ## Build the pause and simulator images without a registry (cached by content)
	@bash hack/install-packages.sh cluster
	@bash hack/build-images.sh

cluster-up: tools ## Start the local cluster (control plane, an on-demand and a spot real GPU node, kwok pools); writes build/cluster/kubeconfig
	@bash hack/cluster/up.sh

cluster-down: ## Stop the local cluster; remove only what it created (processes, mounts, netns, chains, bridge)
	@bash hack/cluster/down.sh

demo: cluster-up ## Local cluster + helm install (values/local-sim.yaml) + completions through the Service until each pool answered
	@bash hack/cluster/demo.sh

# The e2e tier: cluster up, tests, cluster down even when a test fails (the tests' status is kept), then the
# teardown check (hack/cluster/e2e.sh). One run at a time per host (flock): two would share the cluster.
# E2E_TESTS narrows the run to some scenarios (a file, a directory, a node id); E2E_WORKERS (2) is how many
# scenarios share the cluster side by side (hack/cluster/e2e-tests.sh).
E2E_TESTS ?= tests/e2e
e2e-cluster: tools ## End-to-end tests on the local cluster (up, tests/e2e, down, check that down removed only ours)
	@mkdir -p /run/lock; flock -w 3600 /run/lock/vllm-inference-e2e.lock \
	  bash hack/cluster/e2e.sh bash hack/cluster/e2e-tests.sh $(PYTEST) -q -rxX --durations=0 -- $(E2E_TESTS)

ct-install: tools ## ct install with the chart's ci/ files a simulator cluster satisfies (KUBECONFIG, default: the local cluster)
	@bash hack/cluster/ct-install.sh

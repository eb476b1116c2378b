# Packaging and publishing the chart (hack/package.sh, docs/guide/publish.md, .github/workflows/release.yaml):
# a versioned .tgz and a static chart repository index in build/dist, and a push to an OCI registry. They need
# `make tools` first (hack/package.sh says so) but do not run it: tests run them beside other helm calls, and
# `make tools` relinks .tools/bin.
.PHONY: package push registry-up registry-down lint-artifacthub lint-workflows
LINT_TARGETS += lint-artifacthub lint-workflows

DIST ?= build/dist
# Where build/dist is served as a chart repository (the index's URLs): the project's GitHub Pages by default.
REPO_URL ?= https://vllm-inference.github.io/vllm-inference
# The OCI registry to push to (oci://host[:port]/path); PLAIN_HTTP=1 for one without TLS (a local registry).
OCI_REGISTRY ?=
PLAIN_HTTP ?= 0
# The GnuPG key to sign with (its user ID, or a part naming one key), and the secret keyring that holds it.
SIGN_KEY ?=
KEYRING ?= $(HOME)/.gnupg/secring.gpg

package: ## Package the chart into build/dist (.tgz with its README, index.yaml for REPO_URL; SIGN_KEY= to sign)
	@DIST=$(DIST) REPO_URL=$(REPO_URL) SIGN_KEY='$(SIGN_KEY)' KEYRING=$(KEYRING) bash hack/package.sh package

push: ## helm push build/dist's package to OCI_REGISTRY (oci://host/path; PLAIN_HTTP=1 without TLS)
	@DIST=$(DIST) OCI_REGISTRY=$(OCI_REGISTRY) PLAIN_HTTP=$(PLAIN_HTTP) bash hack/package.sh push

REGISTRY_PORT ?= 5000
registry-up: ## Start a local OCI registry (Debian docker-registry) on 127.0.0.1:REGISTRY_PORT, data in build/registry
	@bash hack/registry.sh up $(REGISTRY_PORT)

registry-down: ## Stop the local OCI registry started by registry-up (by its PID) and remove its data
	@bash hack/registry.sh down

lint-artifacthub: ## Artifact Hub metadata: artifacthub-repo.yml and Chart.yaml annotations vs their schemas, images vs the render
	@$(PY) -m chart_publish.artifacthub

lint-workflows: ## actionlint (pinned, with shellcheck) over .github/workflows; yamllint over ct-pr.yaml, artifacthub-repo.yml
	@actionlint .github/workflows/*.yaml
	@yamllint -s ct-pr.yaml artifacthub-repo.yml
	@echo "lint-workflows: ok"

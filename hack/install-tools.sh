#!/usr/bin/env bash
# Installs a tier's toolchain from package registries only (Go module proxy, PyPI, Debian apt). Each tool is
# built once into a version-keyed cache outside the repo and linked into .tools/bin/.
#   install-tools.sh [python helm ct crds shellcheck promtool publish actionlint]  the lint and unit tier
#                                                       (default: all eight); no Kubernetes build
#   install-tools.sh cluster                            the cluster tier: Debian packages, Kubernetes, etcd,
#                                                       kwok, CoreDNS, kubectl, images (hack/cluster/)
# Idempotent: a second run finds the cache and only refreshes links.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Versions (hack/versions.env), the cache and the cluster's binary paths.
# shellcheck source=cluster/env.sh
source "$ROOT/hack/cluster/env.sh"
BIN="$ROOT/.tools/bin"
SHARE="$ROOT/.tools/share"
mkdir -p "$CACHE" "$BIN" "$SHARE"
export GOFLAGS="${GOFLAGS:-} -mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# module_dir MODULE@VERSION -> prints the extracted (read-only) module directory.
module_dir() {
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

# go_tool NAME MODULE VERSION PACKAGE LDFLAGS: build PACKAGE (a path inside MODULE) into $CACHE/NAME-VERSION
# and link it as .tools/bin/NAME. It builds inside a writable copy of the downloaded module: unlike
# `go install pkg@version`, that honours the module's own replace lines and needs no `@v/list` lookup
# (which the proxy refuses for some modules).
go_tool() {
  local name=$1 module=$2 version=$3 package=$4 ldflags=$5
  local dir="$CACHE/$name-$version"
  if [[ ! -x "$dir/bin/$name" ]]; then
    log "building $name $version (cold: a few minutes)"
    local src work
    src=$(module_dir "$module@$version")
    work=$(mktemp -d)
    cp -r "$src/." "$work/" && chmod -R u+w "$work"
    mkdir -p "$dir/bin"
    (cd "$work" && go build -trimpath -ldflags "-s -w $ldflags" -o "$dir/bin/$name" "./$package")
    rm -rf "$work"
  fi
  ln -sfn "$dir/bin/$name" "$BIN/$name"
}

install_helm() {
  go_tool helm helm.sh/helm/v4 "$HELM4_VERSION" cmd/helm \
    "-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION"
  # helm 3 built by `go install` needs its default KubeVersion set, or .Capabilities says v1.20.
  local h3="-X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    h3+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM3_DEFAULT_KUBE_MINOR"
  done
  go_tool helm3 helm.sh/helm/v3 "$HELM3_VERSION" cmd/helm "$h3"
}

install_ct() {
  go_tool ct github.com/helm/chart-testing/v3 "$CT_VERSION" ct \
    "-X github.com/helm/chart-testing/v3/ct/cmd.Version=$CT_VERSION"
  local src; src=$(module_dir "github.com/helm/chart-testing/v3@$CT_VERSION")
  mkdir -p "$SHARE/ct"
  install -m 0644 "$src/etc/chart_schema.yaml" "$src/etc/lintconf.yaml" "$SHARE/ct/"
}

# actionlint for the GitHub workflows (it runs shellcheck, from .tools/bin, over their `run:` scripts).
install_actionlint() {
  go_tool actionlint github.com/rhysd/actionlint "$ACTIONLINT_VERSION" cmd/actionlint \
    "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
}

# promtool from the Prometheus Go module (its `v0.3MM.P` module versions are Prometheus 3.MM.P): `make unit`
# unit-tests the chart's alerts with `promtool test rules`.
install_promtool() {
  local minor=${PROMETHEUS_VERSION#v0.3}
  minor=${minor%%.*}
  # The module ships a go.work (its own development workspace); build it as a plain module.
  GOWORK=off go_tool promtool github.com/prometheus/prometheus "$PROMETHEUS_VERSION" cmd/promtool \
    "-X github.com/prometheus/common/version.Version=3.$((10#$minor)).${PROMETHEUS_VERSION##*.}"
}

# CRDs come from the operators' own Go modules, so validation is against the real schemas.
install_crds() {
  local dest="$SHARE/crds"
  mkdir -p "$dest/keda" "$dest/prometheus-operator"
  local keda; keda=$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
  install -m 0644 "$keda"/config/crd/bases/*.yaml "$dest/keda/"
  local pom; pom=$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  install -m 0644 "$pom"/example/prometheus-operator-crd/*.yaml "$dest/prometheus-operator/"
  mkdir -p "$dest/gateway-api"
  local gw; gw=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  install -m 0644 "$gw"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$dest/gateway-api/"
}

# The shellcheck of Debian, at the version hack/versions.env pins (its findings change between releases).
install_shellcheck() {
  bash "$ROOT/hack/install-packages.sh" lint
  local v; v=$(/usr/bin/shellcheck --version | awk '$1 == "version:" {print $2}')
  [[ $v == "$SHELLCHECK_VERSION" ]] ||
    die "shellcheck $v is installed, hack/versions.env pins SHELLCHECK_VERSION=$SHELLCHECK_VERSION: install that version or change the pin"
  ln -sfn /usr/bin/shellcheck "$BIN/shellcheck"
}

# The local OCI registry (Debian docker-registry) and GnuPG the publish tests push to and sign with.
install_publish() {
  bash "$ROOT/hack/install-packages.sh" publish
}

# The cluster tier. kubectl comes from the same `go build` as the local cluster's Kubernetes binaries
# (k8s.io/kubernetes at KUBERNETES_VERSION), so the client matches the cluster; the images install the
# products from this checkout with the venv's pip.
install_cluster() {
  install_python
  bash "$ROOT/hack/install-packages.sh" cluster
  bash "$ROOT/hack/cluster/build-binaries.sh"
  bash "$ROOT/hack/cluster/build-addons.sh"
  ln -sfn "$KUBECTL" "$BIN/kubectl"
  bash "$ROOT/hack/build-images.sh"
}

install_python() {
  local venv="$ROOT/.venv" stamp
  stamp=$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)
  if [[ ! -f "$venv/.stamp-$stamp" ]]; then
    log "creating .venv from pyproject.toml"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet --cache-dir "$CACHE/pip" -e "${ROOT}[dev]"
    rm -f "$venv"/.stamp-* && touch "$venv/.stamp-$stamp"
  fi
  # ct shells out to yamllint and yamale: expose the venv's copies next to it.
  ln -sfn "$venv/bin/yamllint" "$BIN/yamllint"
  ln -sfn "$venv/bin/yamale" "$BIN/yamale"
}

main() {
  command -v go >/dev/null || die "go is required (Go module proxy builds)"
  local what=("$@") w; [[ ${#what[@]} -gt 0 ]] || what=(python helm ct crds shellcheck promtool publish actionlint)
  for w in "${what[@]}"; do
    [[ $(type -t "install_$w") == function ]] || die "unknown tool '$w' (python helm ct crds shellcheck promtool publish actionlint, or cluster)"
  done
  for w in "${what[@]}"; do "install_$w"; done
  log "ok: $(find "$BIN" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' ')"
}
main "$@"

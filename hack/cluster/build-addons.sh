#!/usr/bin/env bash
# Builds the local cluster's add-ons (the autoscaling stack: docs/autoscaling.md) from the Go module proxy
# alone, cached by version outside the repo like build-binaries.sh:
#   $CACHE/keda-<v>/bin:                keda keda-adapter keda-admission-webhooks (operator, metrics API server,
#                                       admission webhooks; one `go build` so shared packages compile once)
#   $CACHE/prometheus-operator-<v>/bin: operator prometheus-config-reloader
#   $CACHE/prometheus-<v>/bin:          prometheus (only the Kubernetes service discovery compiled in; no web UI)
#   $CACHE/kube-state-metrics-<v>/bin:  kube-state-metrics
# Each builds inside a writable copy of its module (so the module's own replace lines apply). Idempotent: a
# component whose binaries exist is skipped. Each cold build appends its wall time and peak RSS to
# $CACHE/<name>-<v>/build-time.txt.
# Usage: build-addons.sh [keda|prometheus_operator|prometheus|kube_state_metrics ...]   (default: all)
set -euo pipefail

# Versions, the cache and each add-on's directory come from env.sh; timed from gobuild.sh.
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/gobuild.sh"
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off

log() { printf '[build-addons] %s\n' "$*" >&2; }

# module_build NAME BINDIR MODULE@VERSION PREPARE GO_BUILD_ARGS...: unless every binary BINDIR should hold
# (BINS, set by the caller) is there, run PREPARE (a shell command, or :) then `go build GO_BUILD_ARGS` in a
# writable copy of the module, timed into BINDIR/../build-time.txt.
module_build() {
  local name=$1 bindir=$2 module=$3 prepare=$4; shift 4
  local b missing=0
  for b in "${BINS[@]}"; do [[ -x "$bindir/$b" ]] || missing=1; done
  if ((missing == 0)); then log "$name: cached in $bindir"; return; fi
  log "$name: building ${BINS[*]}"
  local src work
  src=$(go mod download -json "$module" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  mkdir -p "$bindir"
  (
    cd "$work"
    eval "$prepare"
    timed "${bindir%/bin}/build-time.txt" nice -n 10 go build -trimpath "$@"
  )
  rm -rf "$work"
}

# KEDA (cold: ~10 min and 2.3 GB peak RSS on 2 cores): its binaries named as KEDA's images name them.
build_keda() {
  local v=$KEDA_VERSION out; out=$(mktemp -d)
  BINS=(keda keda-adapter keda-admission-webhooks)
  module_build "keda $v" "$KEDA_BIN" "github.com/kedacore/keda/v2@$v" : \
    -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=${v#v} -X github.com/kedacore/keda/v2/version.GitCommit=$v" \
    -o "$out/" ./cmd/operator ./cmd/adapter ./cmd/webhooks
  if [[ -x $out/operator ]]; then
    install -m 0755 "$out/operator" "$KEDA_BIN/keda"
    install -m 0755 "$out/adapter" "$KEDA_BIN/keda-adapter"
    install -m 0755 "$out/webhooks" "$KEDA_BIN/keda-admission-webhooks"
  fi
  rm -rf "$out"
}

# prometheus-operator: its go.mod replaces pkg/apis/monitoring and pkg/client with nested directories that are
# modules of their own (absent from the module zip): drop both replaces and let `go mod tidy` take the
# published modules at the versions the go.mod requires.
build_prometheus_operator() {
  local v=$PROMETHEUS_OPERATOR_VERSION m=github.com/prometheus-operator/prometheus-operator
  BINS=(operator prometheus-config-reloader)
  module_build "prometheus-operator $v" "$PROMETHEUS_OPERATOR_BIN" "$m@$v" \
    "go mod edit -dropreplace=$m/pkg/apis/monitoring -dropreplace=$m/pkg/client && go mod tidy >/dev/null 2>&1" \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
    -o "$PROMETHEUS_OPERATOR_BIN/" ./cmd/operator ./cmd/prometheus-config-reloader
}

# Prometheus from the module promtool comes from (PROMETHEUS_VERSION v0.3MM.P = Prometheus 3.MM.P), with only
# the Kubernetes service discovery (prometheus-operator's configs use nothing else) and without the web UI's
# assets: the HTTP API is all the cluster uses.
build_prometheus() {
  BINS=(prometheus)
  module_build "prometheus $PROMETHEUS_SERVER_VERSION ($PROMETHEUS_VERSION)" "$PROMETHEUS_BIN" \
    "github.com/prometheus/prometheus@$PROMETHEUS_VERSION" : -tags remove_all_sd,enable_kubernetes_sd \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_SERVER_VERSION#v}" \
    -o "$PROMETHEUS_BIN/prometheus" ./cmd/prometheus
}

# kube-state-metrics: its main package is the module's root.
build_kube_state_metrics() {
  local v=$KUBE_STATE_METRICS_VERSION
  BINS=(kube-state-metrics)
  module_build "kube-state-metrics $v" "$KUBE_STATE_METRICS_BIN" "k8s.io/kube-state-metrics/v2@$v" : \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
    -o "$KUBE_STATE_METRICS_BIN/kube-state-metrics" .
}

main() {
  command -v go >/dev/null || { log "error: go is required (Go module proxy builds)"; exit 1; }
  [[ -x /usr/bin/time ]] || { log "error: /usr/bin/time (Debian package 'time') is required"; exit 1; }
  local what=("$@"); [[ ${#what[@]} -gt 0 ]] || what=(prometheus_operator prometheus kube_state_metrics keda)
  local w
  for w in "${what[@]}"; do
    [[ $(type -t "build_$w") == function ]] || { log "error: unknown add-on '$w' (keda prometheus_operator prometheus kube_state_metrics)"; exit 1; }
  done
  for w in "${what[@]}"; do "build_$w"; done
}
main "$@"

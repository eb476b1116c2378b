#!/usr/bin/env bash
# Builds the local cluster's add-ons (the autoscaling stack: docs/autoscaling.md) from the Go module proxy
# alone, cached by version outside the repo like build-binaries.sh:
#   $CACHE/keda-<v>/bin:                keda keda-adapter keda-admission-webhooks (operator, metrics API server,
#                                       admission webhooks; one `go build` so shared packages compile once)
#   $CACHE/prometheus-operator-<v>/bin: operator prometheus-config-reloader
#   $CACHE/prometheus-<v>/bin:          prometheus (only the Kubernetes service discovery compiled in; no web UI)
#   $CACHE/kube-state-metrics-<v>/bin:  kube-state-metrics
# Idempotent: a component whose binaries exist is skipped. Each cold build appends its wall time and peak RSS
# to $CACHE/<name>-<v>/build-time.txt.
# Usage: build-addons.sh [keda|prometheus_operator|prometheus|kube_state_metrics ...]   (default: all)
set -euo pipefail

# Versions, the cache and each add-on's directory come from env.sh.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off

log() { printf '[build-addons] %s\n' "$*" >&2; }

# timed OUTFILE CMD...: run CMD under GNU time, append its wall time and peak RSS to OUTFILE.
timed() {
  local out=$1; shift
  local tfile; tfile=$(mktemp)
  if ! /usr/bin/time -v -o "$tfile" "$@"; then
    cat "$tfile" >&2; rm -f "$tfile"; return 1
  fi
  {
    printf '%s %s\n' "$(date -u +%FT%TZ)" "$*"
    grep -E 'Elapsed \(wall clock\)|Maximum resident set size|User time|System time' "$tfile"
  } >>"$out"
  rm -f "$tfile"
}

# module_copy MODULE@VERSION: a writable copy of the downloaded module (its own replace lines then apply).
module_copy() {
  local src work
  src=$(go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  printf '%s\n' "$work"
}

# all_present DIR BIN...: every BIN is an executable in DIR.
all_present() {
  local dir=$1 b; shift
  for b in "$@"; do [[ -x "$dir/$b" ]] || return 1; done
}

# KEDA: operator, metrics API server and admission webhooks, named as KEDA's images name them.
build_keda() {
  local v=$KEDA_VERSION dir=${KEDA_BIN%/bin}
  if all_present "$KEDA_BIN" keda keda-adapter keda-admission-webhooks; then log "keda $v: cached in $KEDA_BIN"; return; fi
  log "keda $v: building operator, adapter, webhooks (cold: ~12 min on 2 cores, 2.3 GB peak RSS)"
  local work; work=$(module_copy "github.com/kedacore/keda/v2@$v")
  mkdir -p "$KEDA_BIN"
  (
    cd "$work"
    timed "$dir/build-time.txt" nice -n 10 go build -trimpath \
      -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=${v#v} -X github.com/kedacore/keda/v2/version.GitCommit=$v" \
      -o "$work/out/" ./cmd/operator ./cmd/adapter ./cmd/webhooks
  )
  install -m 0755 "$work/out/operator" "$KEDA_BIN/keda"
  install -m 0755 "$work/out/adapter" "$KEDA_BIN/keda-adapter"
  install -m 0755 "$work/out/webhooks" "$KEDA_BIN/keda-admission-webhooks"
  rm -rf "$work"
}

# prometheus-operator: its go.mod replaces pkg/apis/monitoring and pkg/client with nested directories that are
# modules of their own (absent from the module zip): drop both replaces and let `go mod tidy` take the
# published modules at the versions the go.mod requires.
build_prometheus_operator() {
  local v=$PROMETHEUS_OPERATOR_VERSION dir=${PROMETHEUS_OPERATOR_BIN%/bin}
  if all_present "$PROMETHEUS_OPERATOR_BIN" operator prometheus-config-reloader; then
    log "prometheus-operator $v: cached in $PROMETHEUS_OPERATOR_BIN"; return
  fi
  log "prometheus-operator $v: building operator, prometheus-config-reloader (cold: ~2-3 min)"
  local work; work=$(module_copy "github.com/prometheus-operator/prometheus-operator@$v")
  mkdir -p "$PROMETHEUS_OPERATOR_BIN"
  (
    cd "$work"
    go mod edit -dropreplace=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring \
      -dropreplace=github.com/prometheus-operator/prometheus-operator/pkg/client
    go mod tidy >/dev/null 2>&1
    timed "$dir/build-time.txt" nice -n 10 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
      -o "$PROMETHEUS_OPERATOR_BIN/" ./cmd/operator ./cmd/prometheus-config-reloader
  )
  rm -rf "$work"
}

# Prometheus from the module promtool comes from (PROMETHEUS_VERSION v0.3MM.P = Prometheus 3.MM.P), with only
# the Kubernetes service discovery (prometheus-operator's configs use nothing else) and without the web UI's
# assets: the HTTP API is all the cluster uses.
build_prometheus() {
  local v=$PROMETHEUS_VERSION dir=${PROMETHEUS_BIN%/bin}
  if all_present "$PROMETHEUS_BIN" prometheus; then log "prometheus $v: cached in $PROMETHEUS_BIN"; return; fi
  log "prometheus $PROMETHEUS_SERVER_VERSION ($v): building (cold: a few minutes)"
  local work; work=$(module_copy "github.com/prometheus/prometheus@$v")
  mkdir -p "$PROMETHEUS_BIN"
  (
    cd "$work"
    timed "$dir/build-time.txt" nice -n 10 go build -trimpath -tags remove_all_sd,enable_kubernetes_sd \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_SERVER_VERSION" \
      -o "$PROMETHEUS_BIN/prometheus" ./cmd/prometheus
  )
  rm -rf "$work"
}

# kube-state-metrics: its main package is the module's root.
build_kube_state_metrics() {
  local v=$KUBE_STATE_METRICS_VERSION dir=${KUBE_STATE_METRICS_BIN%/bin}
  if all_present "$KUBE_STATE_METRICS_BIN" kube-state-metrics; then
    log "kube-state-metrics $v: cached in $KUBE_STATE_METRICS_BIN"; return
  fi
  log "kube-state-metrics $v: building (cold: a few minutes)"
  local work; work=$(module_copy "k8s.io/kube-state-metrics/v2@$v")
  mkdir -p "$KUBE_STATE_METRICS_BIN"
  (
    cd "$work"
    timed "$dir/build-time.txt" nice -n 10 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
      -o "$KUBE_STATE_METRICS_BIN/kube-state-metrics" .
  )
  rm -rf "$work"
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

#!/usr/bin/env bash
# Builds the local cluster's binaries (the cluster tier: `make lint`/`make unit` never run this) from the Go
# module proxy alone, cached by version outside the repo:
#   $CACHE/kubernetes-<v>/bin: kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy
#   $CACHE/etcd-<v>/bin:       etcd
#   $CACHE/kwok-<v>/bin:       kwok (the controller only: we run our own control plane, docs/cluster.md)
#   $CACHE/coredns-<v>/bin:    coredns (cluster DNS, run on the host)
# Idempotent: a component whose binaries exist is skipped. Each cold build records its wall time and peak RSS
# (GNU time -v) in $CACHE/<name>-<v>/build-time.txt.
# Usage: build-binaries.sh [kubernetes|etcd|kwok|coredns ...]   (default: all)
set -euo pipefail

# Versions, the cache and each binary's directory come from env.sh.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# timed OUTFILE CMD...
source "$(dirname "${BASH_SOURCE[0]}")/gobuild.sh"

# gomod_file MODULE@VERSION -> path of the downloaded go.mod
gomod_file() {
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])'
}

# Kubernetes: wrapper module requiring k8s.io/kubernetes, with every staging module (the go.mod's
# `./staging/...` replaces) pinned to its published v0.<minor>.<patch> tag, since `go install` refuses replaces.
build_kubernetes() {
  local v=$KUBERNETES_VERSION dir=${K8S_BIN%/bin}
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy)
  local missing=0 b
  for b in "${bins[@]}"; do [[ -x "$dir/bin/$b" ]] || missing=1; done
  if ((missing == 0)); then log "kubernetes $v: cached in $dir/bin"; return; fi
  log "kubernetes $v: building ${bins[*]} (cold: 15-30 min on 2 cores)"
  local staging_v="v0.${v#v1.}" work; work=$(mktemp -d)
  local kmod; kmod=$(gomod_file "k8s.io/kubernetes@$v")
  {
    printf 'module local/kubernetes-build\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\n' "$v"
    awk '/=> \.\/staging\/src\// {print $1}' "$kmod" | sort -u | while read -r m; do
      printf 'replace %s => %s %s\n' "$m" "$m" "$staging_v"
    done
  } >"$work/go.mod"
  # The tools.go pattern: blank imports (never compiled) let `go mod tidy` resolve every command's deps.
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for b in "${bins[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
    printf ')\n'
  } >"$work/tools.go"
  local minor=${v#v1.}; minor=${minor%%.*}
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    ld+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$dir/bin"
  (
    cd "$work"
    go mod tidy >/dev/null
    local targets=(); for b in "${bins[@]}"; do targets+=("k8s.io/kubernetes/cmd/$b"); done
    # One invocation for all binaries so the shared packages compile once.
    timed "$dir/build-time.txt" nice -n 10 go build -trimpath -ldflags "$ld" -o "$dir/bin/" "${targets[@]}"
  )
  rm -rf "$work"
  log "kubernetes $v: done ($(tail -4 "$dir/build-time.txt" | tr -s ' \t' ' ' | tr '\n' ';'))"
}

# wrapper_build NAME DIR MODULE VERSION < main.go: build DIR/bin/NAME from a one-file main module that
# requires MODULE@VERSION (for modules whose own replace directives make `go install` refuse them).
wrapper_build() {
  local name=$1 dir=$2 module=$3 v=$4 work; work=$(mktemp -d)
  printf 'module local/%s-build\n\ngo 1.25.0\n\nrequire %s %s\n' "$name" "$module" "$v" >"$work/go.mod"
  cat >"$work/main.go"
  mkdir -p "$dir/bin"
  (
    cd "$work"
    go mod tidy >/dev/null
    timed "$dir/build-time.txt" nice -n 10 go build -trimpath -ldflags "-s -w" -o "$dir/bin/$name" .
  )
  rm -rf "$work"
}

# etcd: the server module exposes etcdmain.Main; a three-line main package wraps it.
build_etcd() {
  local v=$ETCD_VERSION dir=${ETCD_BIN%/bin}
  if [[ -x "$dir/bin/etcd" ]]; then log "etcd $v: cached in $dir/bin"; return; fi
  log "etcd $v: building"
  wrapper_build etcd "$dir" go.etcd.io/etcd/server/v3 "$v" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
}

# CoreDNS with only the plugins the local cluster uses (the documented out-of-tree main pattern), so the build
# skips every cloud provider plugin. Bump COREDNS_PLUGINS_REV (env.sh) when the plugin set changes.
build_coredns() {
  local v=$COREDNS_VERSION dir=${COREDNS_BIN%/bin}
  if [[ -x "$dir/bin/coredns" ]]; then log "coredns $v: cached in $dir/bin"; return; fi
  log "coredns $v: building"
  wrapper_build coredns "$dir" github.com/coredns/coredns "$v" <<'EOF'
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// In CoreDNS's own plugin.cfg order.
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "cache", "kubernetes"}
}

func main() { coremain.Run() }
EOF
}

# kwok's module has no replace directives, so plain `go install` works. Only the kwok controller: kwokctl
# (which would run the control plane) is not built, see docs/cluster.md.
build_kwok() {
  local v=$KWOK_VERSION dir=${KWOK_BIN%/bin}
  if [[ -x "$dir/bin/kwok" ]]; then log "kwok $v: cached in $dir/bin"; return; fi
  log "kwok $v: building kwok"
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" timed "$dir/build-time.txt" nice -n 10 go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v}" "sigs.k8s.io/kwok/cmd/kwok@$v"
}

main() {
  command -v go >/dev/null || { log "error: go is required (Go module proxy builds)"; exit 1; }
  [[ -x /usr/bin/time ]] || { log "error: /usr/bin/time (Debian package 'time') is required"; exit 1; }
  local what=("$@"); [[ ${#what[@]} -gt 0 ]] || what=(kubernetes etcd kwok coredns)
  local w; for w in "${what[@]}"; do "build_$w"; done
}
main "$@"

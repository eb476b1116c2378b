#!/usr/bin/env bash
# Installs the Debian packages a tier needs, from apt only:
#   lint     shellcheck (the version pinned in hack/versions.env; `make lint` runs it over every script)
#   cluster  the local cluster's container runtime, CNI, netfilter tools and registry-free image tools
#   publish  the local OCI registry the chart is pushed to in tests (docker-registry, the CNCF distribution
#            registry) and GnuPG for the chart's provenance files (helm package --sign)
# Idempotent: does nothing when every package is already installed; otherwise one `apt-get update` and one
# `apt-get install`. Daemons are never started by the package scripts (policy-rc.d refuses); cluster-up starts
# its own instances with their own config and state.
# Usage: install-packages.sh lint|cluster|publish ...
set -euo pipefail

LINT=(shellcheck)
PUBLISH=(docker-registry gnupg)
CLUSTER=(
  containerd runc containernetworking-plugins iptables conntrack # the worker node
  umoci catatonit debootstrap                                    # registry-free images
  openssl ca-certificates procps iproute2 socat time             # certificates, process/net tools
  dbus-daemon dbus-bin python3-dbus python3-gi                   # each node's system bus and logind
)

log() { printf '[install-packages] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

packages=()
(($# > 0)) || die "name a tier: lint, cluster, publish"
for tier in "$@"; do
  case $tier in
    lint) packages+=("${LINT[@]}") ;;
    cluster) packages+=("${CLUSTER[@]}") ;;
    publish) packages+=("${PUBLISH[@]}") ;;
    *) die "unknown tier '$tier' (tiers: lint, cluster, publish)" ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  log "$*: all present"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || die "missing packages ${missing[*]} and not root: install them with apt-get"
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep package maintainer scripts from starting the system containerd (no init system here anyway).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
remove_policy() { if ((created_policy)); then rm -f "$policy"; fi; }
trap remove_policy EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed ${missing[*]}"

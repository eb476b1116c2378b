#!/usr/bin/env bash
# Installs the Debian packages the local cluster needs (container runtime, CNI, netfilter tools, image tools).
# Idempotent: does nothing when every package is already installed; otherwise one `apt-get update` and one
# `apt-get install`. Daemons are never started by the package scripts (policy-rc.d refuses); cluster-up starts
# its own instances with their own config and state.
set -euo pipefail

PACKAGES=(
  containerd runc containernetworking-plugins iptables conntrack # the worker node
  umoci catatonit debootstrap                                    # registry-free images
  openssl ca-certificates procps iproute2 socat time             # certificates, process/net tools
)

log() { printf '[install-packages] %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  log "all present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  log "error: missing packages ${missing[*]} and not root; install them with apt-get"
  exit 1
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep package maintainer scripts from starting the system containerd (no init system here anyway).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
trap 'if ((created_policy)); then rm -f "$policy"; fi' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed ${missing[*]}"

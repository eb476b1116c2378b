#!/usr/bin/env bash
# The e2e tier on the local cluster, with a check of cluster-down around it: before cluster-up it plants
# objects of "another Kubernetes" on the host (iptables chains KUBE-FOREIGN-TEST and CNI-FOREIGN-TEST with a
# jump from a built-in chain, a network namespace cni-foreign-test in /run/netns) and saves the host's
# tables; after the tests it runs cluster-down and requires the planted objects to be there and the host's
# tables, /run/netns, bridges, mounts and kernel parameters to be as they were before cluster-up.
# Exit status: the tests' when they fail, else the check's. The planted objects are removed at the end.
# Usage: e2e.sh PYTEST_COMMAND...   (run by `make e2e-cluster`, which holds the host's e2e lock)
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/ledger.sh"

(($# > 0)) || die "usage: e2e.sh PYTEST_COMMAND..."
[[ $(id -u) -eq 0 ]] || die "the e2e tier needs root (it runs the local cluster)"
FOREIGN_CHAINS=("filter KUBE-FOREIGN-TEST" "nat CNI-FOREIGN-TEST")
FOREIGN_NETNS=cni-foreign-test
BEFORE=$(mktemp -d)

# host_state: what cluster-down must give back, other than the netfilter tables.
host_state() {
  echo "netns: $(find /run/netns -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort | tr '\n' ' ')"
  echo "links: $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')"
  echo "mounts under $RUN_DIR, $VAR_DIR: $(awk -v r="$RUN_DIR" -v v="$VAR_DIR" \
    'index($5, r) == 1 || index($5, v) == 1 {print $5}' /proc/self/mountinfo | tr '\n' ' ')"
  local path key
  for path in "${NODE_PRIVATE_DIRS[@]}" /var/lib/kubelet/device-plugins /var/log/pods "$RUN_DIR" "$VAR_DIR"; do
    if [[ -e $path ]]; then echo "exists: $path"; else echo "absent: $path"; fi
  done
  echo "/var/log/containers: $(find /var/log/containers -mindepth 1 -printf '%f ' 2>/dev/null)"
  echo "cgroups: $(find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d \( -name "$CGROUP_PARENT" -o -name kubepods \) 2>/dev/null | sort | tr '\n' ' ')"
  echo "routes: $(ip -4 route show | sort | tr '\n' ';')"
  for key in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
    echo "sysctl $key=$(sysctl -n "$key" 2>/dev/null || echo absent)"
  done
}

plant() {
  local entry table chain ipt
  for entry in "${FOREIGN_CHAINS[@]}"; do
    read -r table chain <<<"$entry"
    for ipt in iptables ip6tables; do
      "$ipt" -w -t "$table" -N "$chain" 2>/dev/null || true
      "$ipt" -w -t "$table" -C "$chain" -j RETURN 2>/dev/null || "$ipt" -w -t "$table" -A "$chain" -j RETURN
    done
  done
  iptables -w -C INPUT -j KUBE-FOREIGN-TEST 2>/dev/null || iptables -w -A INPUT -j KUBE-FOREIGN-TEST
  [[ -e /run/netns/$FOREIGN_NETNS ]] || ip netns add "$FOREIGN_NETNS"
}

unplant() {
  local entry table chain ipt
  while iptables -w -D INPUT -j KUBE-FOREIGN-TEST 2>/dev/null; do :; done
  for entry in "${FOREIGN_CHAINS[@]}"; do
    read -r table chain <<<"$entry"
    for ipt in iptables ip6tables; do
      if "$ipt" -w -t "$table" -F "$chain" 2>/dev/null; then "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true; fi
    done
  done
  ip netns delete "$FOREIGN_NETNS" 2>/dev/null || true
  rm -rf "$BEFORE"
}

check_teardown() {
  local failed=0 diff entry table chain
  if ! diff=$(python3 "$NETFILTER" diff "$BEFORE/netfilter"); then
    printf '[teardown-check] netfilter differs from before cluster-up:\n%s\n' "$diff" >&2
    failed=1
  fi
  for entry in "${FOREIGN_CHAINS[@]}"; do
    read -r table chain <<<"$entry"
    iptables -w -t "$table" -S "$chain" >/dev/null 2>&1 ||
      { log "teardown-check: foreign chain $table/$chain is gone"; failed=1; }
  done
  iptables -w -C INPUT -j KUBE-FOREIGN-TEST 2>/dev/null ||
    { log "teardown-check: the foreign jump INPUT -> KUBE-FOREIGN-TEST is gone"; failed=1; }
  [[ -e /run/netns/$FOREIGN_NETNS ]] || { log "teardown-check: foreign netns $FOREIGN_NETNS is gone"; failed=1; }
  if ! diff -u "$BEFORE/host" <(host_state) >&2; then
    log "teardown-check: the host differs from before cluster-up (above)"
    failed=1
  fi
  ((failed == 0)) || return 1
  log "teardown-check: ok: the foreign chains, jump and netns survived; tables, netns, links, mounts and" \
    "sysctls are as before cluster-up"
}

main() {
  # The cluster tier's packages (iptables, iproute2) before planting; cluster-up finds them installed.
  bash "$ROOT/hack/install-tools.sh" cluster
  trap unplant EXIT
  plant
  python3 "$NETFILTER" snapshot "$BEFORE/netfilter"
  host_state >"$BEFORE/host"
  local rc=0
  bash "$HERE/up.sh" && KUBECONFIG=$KUBECONFIG_FILE "$@" || rc=$?
  bash "$HERE/down.sh" || rc=$((rc ? rc : 1))
  check_teardown || rc=$((rc ? rc : 1))
  return "$rc"
}
main "$@"

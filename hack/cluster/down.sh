#!/usr/bin/env bash
# Tears the local cluster down, removing only what it created: every process cluster-up started (by recorded
# PID), the pods' containers, mounts and network namespaces, the iptables chains and rules that appeared since
# cluster-up's snapshot under our components' names, the bridge, the sysctls it set (unless changed since),
# the cgroups it created, the kubelet's state and the cluster's etcd data (ledger.sh says what is recorded).
# Keeps certificates, logs and containerd's image store (build/cluster) so the next cluster-up is fast.
# Safe to run twice, or on a half-started cluster.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/proc.sh"
source "$HERE/ledger.sh"

[[ $(id -u) -eq 0 ]] || die "cluster-down needs root"
if other=$(foreign_owner); then
  die "the running local cluster belongs to another checkout ($other): run make cluster-down there"
fi

ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# Network namespaces of the pod sandboxes, read from containerd before the containers go.
sandbox_netns() {
  local id
  for id in $(ctr_ containers ls -q 2>/dev/null); do
    ctr_ containers info "$id" 2>/dev/null |
      python3 -c 'import json,sys
spec = json.load(sys.stdin).get("Spec") or {}
for ns in (spec.get("linux") or {}).get("namespaces") or []:
    if ns.get("type") == "network" and ns.get("path"):
        print(ns["path"])' || true
  done | sort -u
}

stop_containers() {
  pid_alive containerd || return 0
  NETNS=$(sandbox_netns)
  local id
  for id in $(ctr_ tasks ls -q 2>/dev/null); do
    ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr_ tasks ls -q 2>/dev/null); do
    ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr_ containers ls -q 2>/dev/null); do
    ctr_ containers delete "$id" >/dev/null 2>&1 || true
  done
}

# containerd's shims outlive it by design; ours are the ones started with our socket address.
stop_shims() {
  local p cmdline
  for p in /proc/[0-9]*; do
    cmdline=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    if [[ $cmdline == *"-address $CONTAINERD_SOCK "* ]]; then
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
}

unmount_under() {
  local prefix
  for prefix in "$@"; do
    # Deepest first; lazy unmount as a fallback for a busy mount.
    awk -v p="$prefix" '$5 == p || index($5, p "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
      while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
}

# The pods' network namespaces: those our containerd named (read before it stopped) and every one under its
# state directory (netns_mounts_under_state_dir). /run/netns, shared with other runtimes, is never swept.
remove_netns() {
  local ns
  for ns in $NETNS $(find "$NETNS_DIR" -mindepth 1 -maxdepth 1 2>/dev/null); do
    umount "$ns" 2>/dev/null || true
    rm -f "$ns"
  done
}

# cgroups: only those the ledger says did not exist before our kubelet started (kubepods is a shared name).
remove_cgroups() {
  local c
  while read -r c; do
    if [[ -d $c ]]; then find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done < <(ledger_entries cgroup)
}

# Directories outside our own that cluster-up created (the kubelet's fixed device-plugin directory).
remove_dirs() {
  local d
  while read -r d; do
    rm -rf "$d"
  done < <(ledger_entries dir)
}

# Kernel parameters go back to the host's value unless something else changed them since cluster-up.
restore_sysctls() {
  local key orig ours now
  while read -r key orig ours; do
    now=$(sysctl -n "$key" 2>/dev/null) || continue
    if [[ $now == "$ours" && $orig != "$ours" ]]; then
      sysctl -qw "$key=$orig"
      log "sysctl $key: back to $orig"
    elif [[ $now != "$ours" ]]; then
      log "sysctl $key: $now, set by something else since cluster-up: left as is"
    fi
  done < <(ledger_entries sysctl)
}

# The kubelet's /var/log/containers links to our pods' logs (the directory is the kubelet's fixed one).
remove_log_links() {
  local link
  for link in /var/log/containers/*.log; do
    [[ -L $link && $(readlink "$link") == "$POD_LOGS"/* ]] && rm -f "$link"
  done
  return 0
}

network_cleanup() {
  if command -v iptables >/dev/null; then
    # Exactly the chains and rules that appeared since cluster-up's snapshot under the names our components
    # use (netfilter.py); chains that were there before, another Kubernetes's included, stay.
    python3 "$NETFILTER" teardown "$LEDGER/netfilter" >&2 || log "netfilter: some lines could not be removed (above)"
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link delete "$BRIDGE"
    log "bridge $BRIDGE removed"
  fi
  restore_sysctls
}

main() {
  NETNS=""
  stop_proc kwok 5
  stop_proc gpu-device-plugin 5
  stop_proc kube-proxy 5
  stop_proc kubelet 10
  stop_containers
  stop_proc containerd 10
  stop_shims
  stop_proc coredns 5
  stop_proc kube-scheduler 5
  stop_proc kube-controller-manager 5
  stop_proc kube-apiserver 15
  stop_proc etcd 10
  remove_netns
  unmount_under "$VAR_DIR" "$RUN_DIR" "$CONTAINERD_ROOT"
  remove_cgroups
  network_cleanup
  remove_log_links
  remove_dirs
  rm -rf "$VAR_DIR" "$RUN_DIR" "$STATE/etcd"
  log "cluster down: no process, mount, namespace, bridge, rule or cgroup of the local cluster is left"
}
main "$@"

#!/usr/bin/env bash
# Tears the local cluster down, removing only what it created: every process cluster-up started (by recorded
# PID), each real node with its containers and namespaces (nodes.sh node_down: its mounts and iptables go with
# them), the host's iptables chains and rules that appeared since cluster-up's snapshot under our components'
# names, the bridge, the sysctls it set (unless changed since), the cgroups and directories it created, the
# kubelets' state and the cluster's etcd data (ledger.sh says what is recorded).
# Keeps certificates, logs and containerd's image store (build/cluster) so the next cluster-up is fast.
# Safe to run twice, or on a half-started cluster.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/proc.sh"
source "$HERE/ledger.sh"
source "$HERE/nodes.sh"

[[ $(id -u) -eq 0 ]] || die "cluster-down needs root"
if other=$(foreign_owner); then
  die "the running local cluster belongs to another checkout ($other): run make cluster-down there"
fi

unmount_under() {
  local prefix
  for prefix in "$@"; do
    # Deepest first; lazy unmount as a fallback for a busy mount.
    awk -v p="$prefix" '$5 == p || index($5, p "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
      while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
}

# The cgroup parent of every node's cgroupRoot, named for this project (nodes.sh removes each node's subtree).
remove_cgroups() {
  local h
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    if [[ -d $h/$CGROUP_PARENT ]]; then find "$h/$CGROUP_PARENT" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
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
  local node f
  stop_proc kwok 5
  for node in $(real_node_names); do node_down "$node"; done
  stop_proc coredns 5
  stop_proc kube-scheduler 5
  stop_proc kube-controller-manager 5
  stop_proc kube-apiserver 5
  stop_proc etcd 10
  # Anything else recorded (a component of an older layout of the cluster).
  for f in "$PIDS"/*.pid; do [[ -f $f ]] && stop_proc "$(basename "$f" .pid)" 5; done
  unmount_under "$VAR_DIR" "$RUN_DIR"
  remove_cgroups
  network_cleanup
  remove_log_links
  remove_dirs
  rm -rf "$VAR_DIR" "$RUN_DIR" "$STATE/etcd"
  log "cluster down: no process, mount, namespace, bridge, rule or cgroup of the local cluster is left"
}
main "$@"

#!/usr/bin/env bash
# Tears the local cluster down: stops every process cluster-up started (by recorded PID), kills the pods'
# containers, removes their mounts and network namespaces, the bridge, the iptables rules, kubelet state and
# the cluster's etcd data. Keeps certificates, logs and containerd's image store (build/cluster) so the next
# cluster-up is fast. Safe to run twice, or on a half-started cluster.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/proc.sh"

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

remove_netns() {
  local ns
  # containerd was already gone: its CRI names sandbox namespaces cni-<uuid> (the only CRI runtime here).
  [[ -n $NETNS ]] || NETNS=$(find /run/netns -maxdepth 1 -name 'cni-*' 2>/dev/null || true)
  for ns in $NETNS; do
    umount "$ns" 2>/dev/null || true
    rm -f "$ns"
  done
}

remove_cgroups() {
  local c
  # kubepods: the kubelet's; k8s.io: containers run with ctr in the k8s.io namespace.
  for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io; do
    if [[ -d $c ]]; then find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

network_cleanup() {
  if [[ -f $STATE/sysctl.orig ]]; then
    sysctl -q -p "$STATE/sysctl.orig" >/dev/null 2>&1 || true
    rm -f "$STATE/sysctl.orig"
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link delete "$BRIDGE"
    log "bridge $BRIDGE removed"
  fi
  if command -v iptables >/dev/null; then
    while iptables -w -D INPUT -j "$IPT_CHAIN" 2>/dev/null; do :; done
    if iptables -w -F "$IPT_CHAIN" 2>/dev/null; then iptables -w -X "$IPT_CHAIN" 2>/dev/null || true; fi
    # kube-proxy's own cleanup removes every KUBE-* chain and jump it made.
    if [[ -x $K8S_BIN/kube-proxy ]]; then "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
    # What kubelet (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT) and the CNI portmap plugin
    # (CNI-HOSTPORT-*, CNI-DN-*) leave behind: no other Kubernetes runs on this host, so every KUBE-*/CNI-*
    # chain is this cluster's. Jumps to them first, then the chains.
    local ipt table chain
    for ipt in iptables ip6tables; do
      command -v "$ipt" >/dev/null || continue
      for table in filter nat mangle; do
        "$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-A" && $0 ~ / -j (KUBE|CNI)-/' |
          while read -r rule; do
            # iptables -S quotes comments shell-style: eval keeps them one argument.
            eval "$ipt -w -t $table ${rule/-A/-D}" 2>/dev/null || true
          done
        for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ {print $2}'); do
          "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
        done
        for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ {print $2}'); do
          "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
        done
      done
    done
  fi
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
  unmount_under "$KUBELET_ROOT" "$RUN_DIR" "$CONTAINERD_ROOT"
  remove_cgroups
  network_cleanup
  rm -rf "$KUBELET_ROOT" "$RUN_DIR" "$STATE/etcd"
  log "cluster down: no process, mount, namespace, bridge or rule of the local cluster is left"
}
main "$@"

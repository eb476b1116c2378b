#!/usr/bin/env bash
# Sourced by up.sh after env.sh: the free-space check cluster-up runs first (tests/cluster/test_disk.py).

# disk_preflight: refuse to start when the host filesystems the cluster writes to (build/cluster with the real
# nodes' image stores, /var/lib/vllm-inference with their kubelets' roots) lack the room it needs: the
# kubelets' eviction floor, the image store of each real node not yet imported, and CLUSTER_RUN_MIB.
disk_preflight() {
  local need=$((KUBELET_EVICTION_FREE_MIB + CLUSTER_RUN_MIB)) name dir avail mount
  while read -r name; do
    node_env "$name"
    [[ -d $NODE_CONTAINERD_ROOT/io.containerd.snapshotter.v1.overlayfs ]] || need=$((need + NODE_IMAGE_STORE_MIB))
  done < <(real_node_names)
  for dir in "$STATE" "$VAR_DIR"; do
    while [[ ! -d $dir ]]; do dir=$(dirname "$dir"); done
    read -r avail mount < <(df -m --output=avail,target "$dir" | tail -1)
    ((avail >= need)) || die "only $avail MiB free on $mount (for $dir); the local cluster needs $need MiB \
there: the kubelets evict every pod below $KUBELET_EVICTION_FREE_MIB MiB free, and each real node's first image \
import takes ~$NODE_IMAGE_STORE_MIB MiB (hack/cluster/env.sh). Free space on $mount and run it again"
  done
  log "disk: $need MiB needed, $avail MiB free on $mount"
}

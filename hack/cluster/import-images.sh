#!/usr/bin/env bash
# Imports the locally built OCI archives (hack/build-images.sh) into one real node's containerd, namespace
# k8s.io, under their localhost/vllm-inference/* names. An archive already imported into that node's image
# store (same cache key) is skipped, so a warm cluster-up costs nothing here.
# Usage: import-images.sh NODE
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

(($# == 1)) || die "usage: import-images.sh NODE (one of: $(real_node_names | tr '\n' ' '))"
node_env "$1"
OUT="$CACHE/images"
ctr_() { ctr --address "$NODE_CONTAINERD_SOCK" -n k8s.io "$@"; }
# has_image REF (no `ctr | grep -q` pipe: under pipefail grep's early exit fails the pipeline with SIGPIPE)
has_image() {
  local refs; refs=$(ctr_ images ls -q)
  grep -qxF "$1" <<<"$refs"
}

# import NAME REF: import $OUT/NAME.oci.tar as REF unless that very archive was imported last time.
import() {
  local name=$1 ref=$2 archive stamp
  archive=$(readlink -f "$OUT/$name.oci.tar")
  [[ -f $archive ]] || die "image archive $OUT/$name.oci.tar missing: run hack/build-images.sh"
  stamp="$NODE_STATE/images/$name.imported"
  if [[ -f $stamp && $(cat "$stamp") == "$archive" ]] && has_image "$ref"; then
    log "$NODE_NAME: image $ref: already imported"
    return
  fi
  # The OCI layout names the image by tag only (org.opencontainers.image.ref.name); --base-name adds the repo.
  ctr_ images import --base-name "${ref%:*}" "$archive" >/dev/null
  has_image "$ref" || die "import of $archive did not produce $ref"
  mkdir -p "$NODE_STATE/images"
  printf '%s\n' "$archive" >"$stamp"
  log "$NODE_NAME: image $ref: imported from $(basename "$archive")"
}

import pause "$PAUSE_IMAGE"
import vllm-sim "$SIM_IMAGE"
import fake-gpu-device-plugin "$DEVICE_PLUGIN_IMAGE"
import keda "$KEDA_IMAGE"
import prometheus-operator "$PROMETHEUS_OPERATOR_IMAGE"
import prometheus-server "$PROMETHEUS_IMAGE"
import kube-state-metrics "$KUBE_STATE_METRICS_IMAGE"
import haproxy "$HAPROXY_IMAGE"

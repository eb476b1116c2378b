#!/usr/bin/env bash
# Imports the locally built OCI archives (scripts/images/build-images.sh) into the local cluster's containerd,
# namespace k8s.io, under their localhost/vllm-inference/* names. An archive already imported (same cache key)
# is skipped, so a warm cluster-up costs nothing here.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/env.sh"

OUT="$CACHE/images"
ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# import NAME REF: import $OUT/NAME.oci.tar as REF unless that very archive was imported last time.
import() {
  local name=$1 ref=$2 archive stamp
  archive=$(readlink -f "$OUT/$name.oci.tar")
  [[ -f $archive ]] || die "image archive $OUT/$name.oci.tar missing: run scripts/images/build-images.sh"
  stamp="$STATE/images/$name.imported"
  if [[ -f $stamp && $(cat "$stamp") == "$archive" ]] && ctr_ images ls -q | grep -qxF "$ref"; then
    log "image $ref: already imported"
    return
  fi
  # The OCI layout names the image by tag only (org.opencontainers.image.ref.name); --base-name adds the repo.
  ctr_ images import --base-name "${ref%:*}" "$archive" >/dev/null
  ctr_ images ls -q | grep -qxF "$ref" || die "import of $archive did not produce $ref"
  mkdir -p "$STATE/images"
  printf '%s\n' "$archive" >"$stamp"
  log "image $ref: imported from $(basename "$archive")"
}

import pause "$PAUSE_IMAGE"
import vllm-sim "$SIM_IMAGE"

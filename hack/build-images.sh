#!/usr/bin/env bash
# Builds the local cluster's container images without a registry or a Docker engine, as OCI archives cached
# by a content key under $CACHE/images/:
#   pause   localhost/vllm-inference/pause:0.1.0     Debian's static catatonit in pause mode (-P)
#   vllm-sim localhost/vllm-inference/vllm-sim:0.1.0 debootstrap minbase + python3 + this project (pip), whose
#                                                    `vllm` command runs `vllm-sim` (entrypoint vllm serve)
#   fake-gpu-device-plugin localhost/vllm-inference/fake-gpu-device-plugin:0.1.0  the same base, the
#                                                    device plugin (deploy/fake-gpu-device-plugin)
# The autoscaling add-ons (hack/cluster/addons.sh; binaries from hack/cluster/build-addons.sh):
#   keda                localhost/vllm-inference/keda:<KEDA_VERSION>   /keda, /keda-adapter, /keda-admission-webhooks
#   prometheus-operator localhost/vllm-inference/prometheus-operator:<v> /bin/operator, /bin/prometheus-config-reloader
#   prometheus-server   localhost/vllm-inference/prometheus:<v3.x.y>   /bin/prometheus (entrypoint)
#   kube-state-metrics  localhost/vllm-inference/kube-state-metrics:<v> /kube-state-metrics (entrypoint)
#   haproxy             localhost/vllm-inference/haproxy:<bookworm's>  debootstrap minbase + Debian's haproxy (the
#                                                    gateway in front of a release: deploy/gateway)
# An archive is rebuilt only when its key changes (package sources, pyproject, this script, versions).
# Usage: build-images.sh [pause|sim|device_plugin|keda|prometheus_operator|prometheus|kube_state_metrics|haproxy ...]
#   (default: all; the add-ons' binaries come from hack/cluster/build-addons.sh). Prints nothing else on stdout.
set -euo pipefail

# ROOT, CACHE and versions from the cluster's settings.
source "$(dirname "${BASH_SOURCE[0]}")/cluster/env.sh"
OUT="$CACHE/images"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_PACKAGES=python3,python3-venv,ca-certificates
PIP="${PIP:-$ROOT/.venv/bin/pip}"
mkdir -p "$OUT"
TMPS=()
trap 'rm -rf "${TMPS[@]}"' EXIT

log() { printf '[images] %s\n' "$*" >&2; }

# key FILES...: a short content hash of the given files (- for stdin) and this script.
SELF="$ROOT/hack/build-images.sh"
key() { cat "$SELF" "$@" | sha256sum | cut -c1-16; }

# pack ROOTFS ARCHIVE TAG CONFIG_ARGS...: an OCI layout with one layer holding ROOTFS, tarred to ARCHIVE.
pack() {
  local rootfs=$1 archive=$2 tag=$3; shift 3
  local work; work=$(mktemp -d -p "$OUT"); TMPS+=("$work")
  umoci init --layout "$work/layout"
  umoci new --image "$work/layout:$tag"
  umoci unpack --image "$work/layout:$tag" "$work/bundle" >/dev/null
  cp -a "$rootfs/." "$work/bundle/rootfs/"
  umoci repack --image "$work/layout:$tag" "$work/bundle"
  umoci config --image "$work/layout:$tag" --os linux --architecture amd64 "$@"
  umoci gc --layout "$work/layout"
  tar -C "$work/layout" -cf "$archive.tmp" .
  mv "$archive.tmp" "$archive"
  rm -rf "$work"
}

# current ARCHIVE NAME: make ARCHIVE the one $OUT/NAME.oci.tar points at, and drop NAME's older builds.
current() {
  local archive=$1 name=$2 old
  ln -sfn "$archive" "$OUT/$name.oci.tar"
  for old in "$OUT/$name"-*.oci.tar; do
    [[ $old == "$archive" ]] || rm -f "$old"
  done
}

build_pause() {
  local archive; archive="$OUT/pause-$(key /usr/bin/catatonit).oci.tar"
  if [[ ! -f $archive ]]; then
    log "pause: building from /usr/bin/catatonit"
    local rootfs; rootfs=$(mktemp -d -p "$OUT"); TMPS+=("$rootfs")
    install -m 0755 /usr/bin/catatonit "$rootfs/catatonit"
    pack "$rootfs" "$archive" 0.1.0 --config.entrypoint /catatonit --config.entrypoint -P --config.user 65535:65535
    rm -rf "$rootfs"
  fi
  current "$archive" pause
}

# The Debian base (minbase + python3, or the PACKAGES given), cached as a tarball: debootstrap is the slow step.
base_rootfs() {
  local packages=${1:-$BASE_PACKAGES}
  # Keyed by what goes into it only, so editing this script does not re-run debootstrap.
  local tarball
  tarball="$OUT/rootfs-$SUITE-$(printf '%s %s %s' "$SUITE" "$packages" "$MIRROR" | sha256sum | cut -c1-16).tar"
  if [[ ! -f $tarball ]]; then
    log "debian $SUITE minbase + $packages: debootstrap (cold: a few minutes)"
    local rootfs; rootfs=$(mktemp -d -p "$OUT"); TMPS+=("$rootfs")
    debootstrap --variant=minbase --include="$packages" "$SUITE" "$rootfs" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 ||
      { tail -20 "$OUT/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc \
      "$rootfs"/usr/share/man "$rootfs"/usr/share/info "$rootfs"/usr/share/locale
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  printf '%s\n' "$tarball"
}

# python_image NAME EXTRA CONFIG_ARGS...: the Debian base + a venv (/opt/venv) holding this project's wheel
# installed as `vllm-inference[EXTRA]`, so the image's Python dependencies are exactly what pyproject.toml
# declares for that product; a `vllm` command that runs `vllm-sim`; /vllm-workspace as in vllm/vllm-openai.
# Like that image it has no user but root: no passwd entry for a pod's runAsUser and no HOME made writable
# for one, so a pod runs only if it names its user and gives every cache a writable volume (the chart does).
# Keyed by the packaged sources (src/), pyproject.toml, EXTRA and this script.
python_image() {
  local name=$1 extra=$2; shift 2
  local sources=() archive
  mapfile -t sources < <(cd "$ROOT" && find pyproject.toml src -type f \( -name '*.py' -o -name '*.yaml' \
    -o -name '*.json' -o -name '*.toml' -o -name '*.proto' \) -not -path '*/__pycache__/*' | sort)
  archive="$OUT/$name-$(cd "$ROOT" && printf '%s\n' "$extra $BASE_PACKAGES" | key - "${sources[@]}").oci.tar"
  if [[ ! -f $archive ]]; then
    local base; base=$(base_rootfs)
    log "$name: building (pip install of vllm-inference[$extra] into the Debian base)"
    local rootfs wheels src pyver wheel
    rootfs=$(mktemp -d -p "$OUT"); wheels=$(mktemp -d -p "$OUT"); src=$(mktemp -d -p "$OUT")
    TMPS+=("$rootfs" "$wheels" "$src")
    tar -C "$rootfs" -xf "$base"
    # Wheels come from the host's pip (its certificates and index settings), built/downloaded for the base's
    # Python; the chroot installs them offline.
    pyver=$(chroot "$rootfs" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    cp "$ROOT/pyproject.toml" "$src/"
    (cd "$ROOT" && printf '%s\n' "${sources[@]}" | grep '^src/' | tar -cf - -T -) | tar -C "$src" -xf -
    "$PIP" wheel --quiet --no-deps -w "$wheels" "$src" >&2
    wheel=$(cd "$wheels" && ls vllm_inference-*.whl)
    "$PIP" download --quiet --only-binary=:all: --python-version "$pyver" --platform manylinux2014_x86_64 \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d "$wheels" "$wheels/${wheel}[$extra]" >&2
    mkdir -p "$rootfs/tmp/wheels" && cp "$wheels"/*.whl "$rootfs/tmp/wheels/"
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 sh -euc "
        python3 -m venv /opt/venv
        /opt/venv/bin/pip install --quiet --no-index --find-links /tmp/wheels '/tmp/wheels/${wheel}[$extra]'
        rm -rf /tmp/wheels /root/.cache
        printf '#!/bin/sh\n# vLLM command line, served by the simulator.\nexec /opt/venv/bin/vllm-sim \"\$@\"\n' \
          >/usr/local/bin/vllm
        chmod 0755 /usr/local/bin/vllm
        mkdir -p /vllm-workspace
      " >&2
    : >"$rootfs/etc/resolv.conf"
    # mktemp made the directory 0700 and the layer's "." entry copies it: a non-root uid could not resolve /.
    chmod 0755 "$rootfs"
    pack "$rootfs" "$archive" 0.1.0 --config.env PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin \
      --config.env PYTHONUNBUFFERED=1 --config.env PYTHONDONTWRITEBYTECODE=1 "$@"
  fi
  current "$archive" "$name"
}

# The simulator mirrors vllm/vllm-openai where a pod meets it: root by default (a restricted pod sets
# runAsUser, which has no passwd entry), workdir /vllm-workspace, no HOME of its own; the root filesystem may be
# read-only (the bytecode is compiled at install, nothing is written beside it).
build_sim() {
  python_image vllm-sim sim \
    --config.entrypoint vllm --config.entrypoint serve --config.workingdir /vllm-workspace \
    --config.exposedports 8000/tcp
}

# The fake GPU device plugin, for deploy/fake-gpu-device-plugin/daemonset.yaml (root: it writes its socket
# into the kubelet's root-owned directory).
build_device_plugin() {
  python_image fake-gpu-device-plugin device-plugin \
    --config.entrypoint python3 --config.entrypoint -m --config.entrypoint gpu_device_plugin
}

# static_image NAME TAG BINDIR DEST BINARY... -- CONFIG_ARGS...: static Go binaries (CGO_ENABLED=0) in DEST with
# the host's CA bundle, a passwd/group naming nobody (65534) and a world-writable /tmp; no shell, no libc.
# Keyed by the binaries themselves (their build is keyed by version in the cache).
static_image() {
  local name=$1 tag=$2 bindir=$3 dest=$4; shift 4
  local bins=() b
  while [[ $1 != -- ]]; do bins+=("$bindir/$1"); shift; done
  shift
  local archive; archive="$OUT/$name-$(key "${bins[@]}").oci.tar"
  if [[ ! -f $archive ]]; then
    for b in "${bins[@]}"; do [[ -x $b ]] || { log "error: $b missing: run hack/cluster/build-addons.sh"; exit 1; }; done
    log "$name: packing ${bins[*]##*/}"
    local rootfs; rootfs=$(mktemp -d -p "$OUT"); TMPS+=("$rootfs")
    mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/tmp"
    chmod 1777 "$rootfs/tmp"
    chmod 0755 "$rootfs"
    mkdir -p "$rootfs$dest"
    install -m 0755 "${bins[@]}" "$rootfs$dest/"
    install -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
    pack "$rootfs" "$archive" "$tag" --config.user 65534:65534 "$@"
    rm -rf "$rootfs"
  fi
  current "$archive" "$name"
}

build_keda() {
  # At / as KEDA's own images have them (its manifests run /keda, /keda-adapter, /keda-admission-webhooks).
  static_image keda "$KEDA_VERSION" "$KEDA_BIN" / keda keda-adapter keda-admission-webhooks -- \
    --config.entrypoint /keda
}

build_prometheus_operator() {
  static_image prometheus-operator "$PROMETHEUS_OPERATOR_VERSION" "$PROMETHEUS_OPERATOR_BIN" /bin \
    operator prometheus-config-reloader -- --config.entrypoint /bin/operator
}

build_prometheus() {
  # Not "prometheus": current() drops NAME-*.oci.tar, which would match prometheus-operator's archives.
  static_image prometheus-server "$PROMETHEUS_SERVER_VERSION" "$PROMETHEUS_BIN" /bin prometheus -- \
    --config.entrypoint /bin/prometheus --config.workingdir /prometheus
}

build_kube_state_metrics() {
  static_image kube-state-metrics "$KUBE_STATE_METRICS_VERSION" "$KUBE_STATE_METRICS_BIN" / kube-state-metrics -- \
    --config.entrypoint /kube-state-metrics
}

# HAProxy from Debian bookworm (2.6; its built-in Prometheus exporter), run as haproxy's own user (uid of the
# package's postinst, looked up at pack time).
build_haproxy() {
  local base; base=$(base_rootfs ca-certificates,haproxy)
  local archive; archive="$OUT/haproxy-$(key "$base").oci.tar"
  if [[ ! -f $archive ]]; then
    log "haproxy: packing Debian's haproxy"
    local rootfs; rootfs=$(mktemp -d -p "$OUT"); TMPS+=("$rootfs")
    tar -C "$rootfs" -xf "$base"
    chmod 0755 "$rootfs"
    : >"$rootfs/etc/resolv.conf"
    local uid; uid=$(awk -F: '$1 == "haproxy" {print $3 ":" $4}' "$rootfs/etc/passwd")
    [[ -n $uid ]] || { log "error: the haproxy package made no haproxy user"; exit 1; }
    pack "$rootfs" "$archive" "$HAPROXY_IMAGE_TAG" --config.user "$uid" \
      --config.entrypoint /usr/sbin/haproxy --config.cmd -W --config.cmd -db --config.cmd -f \
      --config.cmd /usr/local/etc/haproxy/haproxy.cfg
  fi
  current "$archive" haproxy
}

main() {
  local what=("$@"); [[ ${#what[@]} -gt 0 ]] || what=(pause sim device_plugin keda prometheus_operator prometheus kube_state_metrics haproxy)
  local w; for w in "${what[@]}"; do "build_$w"; done
  log "ok: $(find "$OUT" -maxdepth 1 -name '*.oci.tar' -printf '%f\n' | sort | tr '\n' ' ')"
}
main "$@"

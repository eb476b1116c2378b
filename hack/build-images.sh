#!/usr/bin/env bash
# Builds the local cluster's container images without a registry or a Docker engine, as OCI archives cached
# by a content key under $CACHE/images/:
#   pause   localhost/vllm-inference/pause:0.1.0     Debian's static catatonit in pause mode (-P)
#   vllm-sim localhost/vllm-inference/vllm-sim:0.1.0 debootstrap minbase + python3 + this project (pip), whose
#                                                    `vllm` command runs `vllm-sim` (entrypoint vllm serve)
#   fake-gpu-device-plugin localhost/vllm-inference/fake-gpu-device-plugin:0.1.0  the same base, the
#                                                    device plugin (deploy/fake-gpu-device-plugin)
# An archive is rebuilt only when its key changes (package sources, pyproject, this script, versions).
# Usage: build-images.sh [pause|sim|device_plugin ...]   (default: all). Prints nothing else on stdout.
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

# The Debian base (minbase + python3), cached as a tarball: debootstrap is the slow step.
base_rootfs() {
  # Keyed by what goes into it only, so editing this script does not re-run debootstrap.
  local tarball
  tarball="$OUT/rootfs-$SUITE-$(printf '%s %s %s' "$SUITE" "$BASE_PACKAGES" "$MIRROR" | sha256sum | cut -c1-16).tar"
  if [[ ! -f $tarball ]]; then
    log "debian $SUITE minbase + $BASE_PACKAGES: debootstrap (cold: a few minutes)"
    local rootfs; rootfs=$(mktemp -d -p "$OUT"); TMPS+=("$rootfs")
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 ||
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

main() {
  local what=("$@"); [[ ${#what[@]} -gt 0 ]] || what=(pause sim device_plugin)
  local w; for w in "${what[@]}"; do "build_$w"; done
  log "ok: $(find "$OUT" -maxdepth 1 -name '*.oci.tar' -printf '%f\n' | sort | tr '\n' ' ')"
}
main "$@"

#!/usr/bin/env bash
# Packages the chart for its two channels, the way the release workflow (.github/workflows/release.yaml) and
# the guide (docs/guide/publish.md) do it:
#   package.sh package   helm package into $DIST (versioned .tgz, the chart's README inside; signed with
#                        `--sign` when SIGN_KEY is set), then `helm repo index $DIST --url $REPO_URL` for a
#                        static chart repository (merged with an index.yaml already in $DIST), with
#                        artifacthub-repo.yml next to it
#   package.sh push      helm push of $DIST's package of the chart's version (its .prov with it, when signed)
#                        to $OCI_REGISTRY (oci://host[:port]/path); PLAIN_HTTP=1 for a registry without TLS
# Settings (environment):
#   HELM         the helm binary (default: .tools/bin/helm, helm 4; .tools/bin/helm3 works the same)
#   CHART_DIR    the chart (default: charts/vllm-inference); DIST (default: build/dist)
#   REPO_URL     where $DIST will be served (the index's URLs); default: the project's GitHub Pages
#   SIGN_KEY     the GnuPG key to sign with, by its user ID or a part of it that names one key (helm matches
#                user IDs, not fingerprints); KEYRING its secret keyring
#                (default: ~/.gnupg/secring.gpg; export one with `gpg --export-secret-keys > FILE`)
#   PASSPHRASE_FILE  a file holding the key's passphrase (HELM_KEY_PASSPHRASE works too); none: unprotected
#   OCI_REGISTRY the push target, e.g. oci://ghcr.io/OWNER/charts
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELM="${HELM:-$ROOT/.tools/bin/helm}"
CHART_DIR="${CHART_DIR:-$ROOT/charts/vllm-inference}"
DIST="${DIST:-$ROOT/build/dist}"
REPO_URL="${REPO_URL:-https://vllm-inference.github.io/vllm-inference}"

log() { printf '[package] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -x $HELM ]] || command -v "$HELM" >/dev/null || die "helm not found at $HELM: run make tools or set HELM"
[[ -f $CHART_DIR/Chart.yaml ]] || die "no chart at CHART_DIR=$CHART_DIR"
name=$(awk '$1 == "name:" {print $2; exit}' "$CHART_DIR/Chart.yaml")
version=$(awk '$1 == "version:" {print $2; exit}' "$CHART_DIR/Chart.yaml")
tgz="$DIST/$name-$version.tgz"

package() {
  mkdir -p "$DIST"
  local args=(package "$CHART_DIR" --destination "$DIST")
  if [[ -n ${SIGN_KEY:-} ]]; then
    local keyring="${KEYRING:-$HOME/.gnupg/secring.gpg}"
    [[ -f $keyring ]] || die "SIGN_KEY is set but KEYRING=$keyring does not exist (gpg --export-secret-keys > FILE)"
    args+=(--sign --key "$SIGN_KEY" --keyring "$keyring")
    [[ -z ${PASSPHRASE_FILE:-} ]] || args+=(--passphrase-file "$PASSPHRASE_FILE")
  fi
  "$HELM" "${args[@]}" >/dev/null
  local files; files=$(tar -tzf "$tgz")
  grep -qx "$name/README.md" <<<"$files" || die "$tgz has no $name/README.md (check .helmignore)"
  local merge=()
  [[ ! -f $DIST/index.yaml ]] || merge=(--merge "$DIST/index.yaml")
  "$HELM" repo index "$DIST" --url "$REPO_URL" "${merge[@]}"
  # Artifact Hub reads its repository file next to index.yaml.
  install -m 0644 "$ROOT/artifacthub-repo.yml" "$DIST/artifacthub-repo.yml"
  log "packaged $tgz$([[ -z ${SIGN_KEY:-} ]] || echo " (signed, $tgz.prov)"); index $DIST/index.yaml for $REPO_URL"
}

push() {
  [[ -n ${OCI_REGISTRY:-} ]] || die "OCI_REGISTRY is not set (e.g. OCI_REGISTRY=oci://ghcr.io/OWNER/charts)"
  [[ $OCI_REGISTRY == oci://* ]] || die "OCI_REGISTRY=$OCI_REGISTRY must start with oci://"
  [[ -f $tgz ]] || die "no $tgz: run \`make package\` first"
  local args=(push "$tgz" "$OCI_REGISTRY")
  [[ ${PLAIN_HTTP:-0} != 1 ]] || args+=(--plain-http)
  "$HELM" "${args[@]}"
}

case "${1:-}" in
  package) package ;;
  push) push ;;
  *) die "usage: package.sh package|push (settings: see the header of hack/package.sh)" ;;
esac

#!/usr/bin/env bash
# Installs the local cluster's autoscaling add-ons (docs/autoscaling.md), as pods on the on-demand real node
# (the spot node is drained and reclaimed by scenarios; the add-ons must outlive that):
#   - KEDA (operator, metrics API server, admission webhooks) in namespace keda, its CRDs, the APIService
#     v1beta1.external.metrics.k8s.io served by its metrics server (KEDA's own certificate rotation);
#   - prometheus-operator and one Prometheus (spec.version = the server built) in namespace monitoring, which
#     scrapes every ServiceMonitor/PodMonitor and loads every PrometheusRule of the cluster;
#   - kube-state-metrics in kube-system, scraped by it (the chart's queries for a pool at zero, its alerts).
# Manifests: the projects' own, from their Go modules at the pinned versions, through the overlays in
# deploy/keda, deploy/prometheus and deploy/kube-state-metrics (kubectl's built-in kustomize). Binaries and images: build-addons.sh,
# build-images.sh; import-images.sh has put the images in every node. Idempotent (server-side apply).
# Usage: addons.sh          (run by up.sh's `addons` step; VLLM_CLUSTER_ADDONS=none skips it there)
#        addons.sh render   print the manifests it would apply (no cluster needed)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export GOFLAGS="-mod=mod" GOTOOLCHAIN=local

module_dir() {
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

# The node the add-ons run on: the first on-demand real node.
addons_node() {
  local spec name capacity
  for spec in "${REAL_NODES[@]}"; do
    read -r name _ _ capacity _ <<<"$spec"
    [[ $capacity == on-demand ]] && { printf '%s\n' "$name"; return; }
  done
  die "no on-demand real node in REAL_NODES (env.sh) to run the add-ons on"
}

# placement FILE: a JSON patch pinning a pod template to the add-ons' node, past the GPU nodes' taint.
placement() {
  cat >"$1" <<YAML
- op: add
  path: /spec/template/spec/nodeSelector
  value:
    kubernetes.io/hostname: $ADDONS_NODE
- op: add
  path: /spec/template/spec/tolerations
  value:
    - {key: gpu, operator: Equal, value: "true", effect: NoSchedule}
YAML
}

# overlay NAME MODULE_SUBDIR: a writable copy of deploy/NAME with the module's SUBDIR as base/.
overlay() {
  local name=$1 src=$2 dir="$WORK/$1"
  mkdir -p "$dir"
  cp -r "$ROOT/deploy/$name/." "$dir/"
  cp -r "$src/." "$dir/base/" && chmod -R u+w "$dir/base"
  placement "$dir/placement.yaml"
  printf '%s\n' "$dir"
}

keda() {
  local mod dir
  mod=$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
  dir=$(overlay keda "$mod/config")
  # KEDA's three images are one here (its binaries side by side).
  {
    printf 'images:\n'
    local i
    for i in keda keda-metrics-apiserver keda-admission-webhooks; do
      printf '  - name: ghcr.io/kedacore/%s\n    newName: %s\n    newTag: %s\n' "$i" "${KEDA_IMAGE%:*}" "${KEDA_IMAGE##*:}"
    done
  } >>"$dir/kustomization.yaml"
  "$KUBECTL" kustomize "$dir" >"$WORK/keda.yaml"
}

prometheus() {
  local mod dir
  mod=$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  local f
  for f in "$mod"/example/prometheus-operator-crd/*.yaml; do printf -- '---\n'; cat "$f"; done >"$WORK/prometheus-crds.yaml"
  dir=$(overlay prometheus "$mod/example")
  {
    printf 'images:\n  - name: quay.io/prometheus-operator/prometheus-operator\n    newName: %s\n    newTag: %s\n' \
      "${PROMETHEUS_OPERATOR_IMAGE%:*}" "${PROMETHEUS_OPERATOR_IMAGE##*:}"
  } >>"$dir/kustomization.yaml"
  cat >"$dir/versions.yaml" <<YAML
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: prometheus
spec:
  version: $PROMETHEUS_SERVER_VERSION
  image: $PROMETHEUS_IMAGE
  nodeSelector:
    kubernetes.io/hostname: $ADDONS_NODE
  tolerations:
    - {key: gpu, operator: Equal, value: "true", effect: NoSchedule}
YAML
  # The operator's reloader sidecar: our prometheus-operator image holds it (/bin/prometheus-config-reloader).
  cat >>"$dir/operator.yaml" <<YAML
- op: replace
  path: /spec/template/spec/containers/0/args/1
  value: --prometheus-config-reloader=$PROMETHEUS_OPERATOR_IMAGE
YAML
  "$KUBECTL" kustomize "$dir" >"$WORK/prometheus.yaml"
}

kube_state_metrics() {
  local mod dir
  mod=$(module_dir "k8s.io/kube-state-metrics/v2@$KUBE_STATE_METRICS_VERSION")
  dir=$(overlay kube-state-metrics "$mod/examples")
  printf 'images:\n  - name: registry.k8s.io/kube-state-metrics/kube-state-metrics\n    newName: %s\n    newTag: %s\n' \
    "${KUBE_STATE_METRICS_IMAGE%:*}" "${KUBE_STATE_METRICS_IMAGE##*:}" >>"$dir/kustomization.yaml"
  "$KUBECTL" kustomize "$dir" >"$WORK/kube-state-metrics.yaml"
}

apply() {
  log "prometheus-operator $PROMETHEUS_OPERATOR_VERSION: CRDs, operator; Prometheus $PROMETHEUS_SERVER_VERSION (namespace monitoring)"
  kctl apply --server-side --force-conflicts -f "$WORK/prometheus-crds.yaml" >/dev/null
  kctl wait --for=condition=Established crd/prometheuses.monitoring.coreos.com --timeout=60s >/dev/null
  kctl apply --server-side --force-conflicts -f "$WORK/prometheus.yaml" >/dev/null
  log "kube-state-metrics $KUBE_STATE_METRICS_VERSION (namespace kube-system), scraped by that Prometheus"
  kctl apply --server-side --force-conflicts -f "$WORK/kube-state-metrics.yaml" >/dev/null
  log "keda $KEDA_VERSION: CRDs, operator, metrics API server, admission webhooks (namespace keda)"
  kctl apply --server-side --force-conflicts -f "$WORK/keda.yaml" >/dev/null
}

wait_ready() {
  local d
  for d in keda-operator keda-metrics-apiserver keda-admission; do
    kctl -n keda rollout status "deployment/$d" --timeout=180s >/dev/null
  done
  kctl wait --for=condition=Available apiservice/v1beta1.external.metrics.k8s.io --timeout=120s >/dev/null
  kctl -n monitoring rollout status deployment/prometheus-operator --timeout=120s >/dev/null
  kctl -n kube-system rollout status deployment/kube-state-metrics --timeout=120s >/dev/null
  local i
  for ((i = 0; i < 120; i++)); do
    kctl -n monitoring get statefulset prometheus-prometheus >/dev/null 2>&1 && break
    sleep 1
  done
  kctl -n monitoring rollout status statefulset/prometheus-prometheus --timeout=180s >/dev/null
  log "add-ons ready: KEDA (external metrics API Available), Prometheus at http://prometheus-operated.monitoring.svc:9090"
}

main() {
  ADDONS_NODE=$(addons_node)
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  prometheus
  kube_state_metrics
  keda
  if [[ ${1:-} == render ]]; then
    cat "$WORK/prometheus-crds.yaml"; printf -- '---\n'; cat "$WORK/prometheus.yaml"; printf -- '---\n'
    cat "$WORK/kube-state-metrics.yaml"; printf -- '---\n'; cat "$WORK/keda.yaml"
    return
  fi
  apply
  wait_ready
}
main "$@"

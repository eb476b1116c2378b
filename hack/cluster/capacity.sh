#!/usr/bin/env bash
# `vllm-plan capacity` against one replica of the simulator on the running local cluster (make capacity
# brings the cluster up and down around it): installs the chart with values/local-sim.yaml and the
# autoscaling bench's deployment (benchmarks/autoscaling-deployment.yaml: a replica that saturates on its KV
# cache, at a time scale), one on-demand replica (spot off, no autoscaler), waits until it serves, then runs
# the ramp from the on-demand node's network namespace against that one pod's IP (not the Service: one
# replica is what the knee is of), with the same ramp replayed beside it (--predict L4, the same values
# files). The report, PNG and values snippet land in CAPACITY_OUT. CAPACITY_ARGS replaces the request shape
# and SLO (default: the bench's streamed chat of 128 tokens and TTFT SLO, with the chart's defaults, a
# queue-only peer and the recipe compared).
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"

RELEASE=capacity
NAMESPACE="${CAPACITY_NAMESPACE:-vllm-capacity}"
CHART_DIR="$ROOT/charts/vllm-inference"
HELM="${HELM:-$ROOT/.tools/bin/helm}"
VLLM_PLAN="$ROOT/.venv/bin/vllm-plan"
MODEL=Qwen/Qwen2.5-0.5B-Instruct # values/local-sim.yaml's
DEPLOYMENT="$ROOT/benchmarks/autoscaling-deployment.yaml"
OUT="${CAPACITY_OUT:-$ROOT/build/reports/capacity}"
# The bench's deployment flags (values files, time scale), request shape, bounds and SLO: one source,
# benchmarks/autoscaling_derived.py; the other configurations' thresholds held against the same ramp.
bench_flags() { "$ROOT/.venv/bin/python" "$ROOT/benchmarks/autoscaling_derived.py" "$1"; }
FLAGS=$(bench_flags deployment-flags)
ARGS="${CAPACITY_ARGS:-$(bench_flags request-flags) --peak-rps 30 --compare chart=0.7,4 --compare peer=-,5 --compare recipe=70,-}"
CLIENT_NODE=$(real_node_names | head -1)

[[ $(id -u) -eq 0 ]] || die "capacity needs root (its client runs in a node's network namespace)"
[[ -f $KUBECONFIG_FILE ]] || die "no $KUBECONFIG_FILE: run make cluster-up first"
kctl get --raw /readyz >/dev/null || die "the local cluster's API server is not answering"
export KUBECONFIG=$KUBECONFIG_FILE

overlay=$(mktemp --suffix .yaml)
trap 'rm -f "$overlay"; "$HELM" uninstall "$RELEASE" -n "$NAMESPACE" --wait >/dev/null 2>&1 || true;
  kctl delete namespace "$NAMESPACE" --wait=false >/dev/null 2>&1 || true' EXIT
cat >"$overlay" <<EOF
pools:
  onDemand: {replicas: 1}
  spot: {enabled: false, replicas: null}
autoscaling: {mode: none}
EOF
log "capacity: installing one replica of $MODEL (values/local-sim.yaml + ${DEPLOYMENT#"$ROOT"/}) in $NAMESPACE"
"$HELM" upgrade --install "$RELEASE" "$CHART_DIR" -n "$NAMESPACE" --create-namespace \
  -f "$ROOT/values/local-sim.yaml" -f "$DEPLOYMENT" -f "$overlay" --wait --timeout 180s >"$LOGS/capacity-helm.log" 2>&1 ||
  { cat "$LOGS/capacity-helm.log" >&2; die "helm install failed"; }
pod_ip=$(kctl get pods -n "$NAMESPACE" -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=pool-on-demand" \
  -o jsonpath='{.items[0].status.podIP}')
[[ -n $pod_ip ]] || die "the release's on-demand pod has no IP"
log "capacity: ramping http://$pod_ip:8000 from node $CLIENT_NODE into $OUT"
# shellcheck disable=SC2086 # FLAGS and ARGS are lists of flags
in_node_net "$CLIENT_NODE" "$VLLM_PLAN" capacity --url "http://$pod_ip:8000" --model "$MODEL" \
  $FLAGS --predict L4 $ARGS --out "$OUT"

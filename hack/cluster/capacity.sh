#!/usr/bin/env bash
# `vllm-plan capacity` against one replica of the simulator on the running local cluster (make capacity
# brings the cluster up and down around it): installs the chart with values/local-sim.yaml and one
# on-demand replica (spot off, no autoscaler, CAPACITY_MAX_NUM_SEQS sequences, VLLM_SIM_TIME_SCALE
# CAPACITY_TIME_SCALE), waits until it serves, then runs the ramp from the on-demand node's network
# namespace against that one pod's IP (not the Service: one replica is what the knee is of), with the
# same ramp replayed beside it (--predict L4). The report, PNG and values snippet land in CAPACITY_OUT.
# CAPACITY_ARGS replaces the request shape and SLO (default: the autoscaling bench's streamed chat of 128
# tokens, TTFT SLO 2 s, with the chart's defaults, a queue-only peer and the recipe compared).
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"

RELEASE=capacity
NAMESPACE="${CAPACITY_NAMESPACE:-vllm-capacity}"
CHART_DIR="$ROOT/charts/vllm-inference"
HELM="${HELM:-$ROOT/.tools/bin/helm}"
VLLM_PLAN="$ROOT/.venv/bin/vllm-plan"
MODEL=Qwen/Qwen2.5-0.5B-Instruct # values/local-sim.yaml's
MAX_NUM_SEQS="${CAPACITY_MAX_NUM_SEQS:-8}"
TIME_SCALE="${CAPACITY_TIME_SCALE:-1}"
OUT="${CAPACITY_OUT:-$ROOT/build/reports/capacity}"
# The autoscaling bench's request shape and bounds (benchmarks/autoscaling_derived.py, one source), its TTFT
# SLO, and the other configurations' thresholds held against the same ramp.
BENCH_RAMP=$("$ROOT/.venv/bin/python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import autoscaling_derived as a
print(" ".join(a.RAMP))' "$ROOT/benchmarks")
ARGS="${CAPACITY_ARGS:-$BENCH_RAMP --ttft-slo 2 --peak-rps 30 --compare chart=0.7,4 --compare peer=-,5 --compare recipe=70,-}"
CLIENT_NODE=$(real_node_names | head -1)

[[ $(id -u) -eq 0 ]] || die "capacity needs root (its client runs in a node's network namespace)"
[[ -f $KUBECONFIG_FILE ]] || die "no $KUBECONFIG_FILE: run make cluster-up first"
kctl get --raw /readyz >/dev/null || die "the local cluster's API server is not answering"
export KUBECONFIG=$KUBECONFIG_FILE

overlay=$(mktemp --suffix .yaml)
trap 'rm -f "$overlay"; "$HELM" uninstall "$RELEASE" -n "$NAMESPACE" --wait >/dev/null 2>&1 || true;
  kctl delete namespace "$NAMESPACE" --wait=false >/dev/null 2>&1 || true' EXIT
cat >"$overlay" <<EOF
vllm:
  maxNumSeqs: $MAX_NUM_SEQS
  env:
    - {name: VLLM_SIM_LOAD_SECONDS, value: "2"}
    - {name: VLLM_SIM_TIME_SCALE, value: "$TIME_SCALE"}
pools:
  spot: {enabled: false, replicas: null}
EOF
log "capacity: installing one replica of $MODEL ($MAX_NUM_SEQS sequences, time scale $TIME_SCALE) in $NAMESPACE"
"$HELM" upgrade --install "$RELEASE" "$CHART_DIR" -n "$NAMESPACE" --create-namespace \
  -f "$ROOT/values/local-sim.yaml" -f "$overlay" --wait --timeout 180s >"$LOGS/capacity-helm.log" 2>&1 ||
  { cat "$LOGS/capacity-helm.log" >&2; die "helm install failed"; }
pod_ip=$(kctl get pods -n "$NAMESPACE" -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=pool-on-demand" \
  -o jsonpath='{.items[0].status.podIP}')
[[ -n $pod_ip ]] || die "the release's on-demand pod has no IP"
log "capacity: ramping http://$pod_ip:8000 from node $CLIENT_NODE into $OUT"
# shellcheck disable=SC2086 # ARGS is a list of flags
in_node_net "$CLIENT_NODE" "$VLLM_PLAN" capacity --url "http://$pod_ip:8000" --model "$MODEL" \
  --time-scale "$TIME_SCALE" --predict L4 --max-model-len 4096 --max-num-seqs "$MAX_NUM_SEQS" \
  $ARGS --out "$OUT"

#!/usr/bin/env bash
# The demo on the local cluster (run after cluster-up; `make demo` does both): installs the chart with
# values/local-sim.yaml, waits for a serving replica, sends a real chat completion through the Service
# (kubectl port-forward to svc), and shows which pods run on which pool and node, and where the metrics are.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/proc.sh"

RELEASE="${DEMO_RELEASE:-vllm}"
NAMESPACE="${DEMO_NAMESPACE:-vllm-demo}"
VALUES="$ROOT/values/local-sim.yaml"
CHART_DIR="$ROOT/charts/vllm-inference"
HELM="${HELM:-$ROOT/.tools/bin/helm}"
LOCAL_PORT="${DEMO_PORT:-18000}"

step() { printf '\n[demo] == %s\n' "$*" >&2; CURRENT_STEP=$*; }
CURRENT_STEP=start
PF_PID=""
cleanup() {
  local rc=$?
  if [[ -n $PF_PID ]]; then kill "$PF_PID" 2>/dev/null || true; fi
  ((rc == 0)) || printf '[demo] error: demo failed at step: %s\n' "$CURRENT_STEP" >&2
}
trap cleanup EXIT

step "preflight"
[[ -f $KUBECONFIG_FILE ]] || die "no $KUBECONFIG_FILE: run make cluster-up first"
[[ -x $HELM ]] || die "helm not found at $HELM: run make tools"
[[ -d $CHART_DIR ]] || die "chart $CHART_DIR missing"
[[ -f $VALUES ]] || die "values file $VALUES missing"
kctl get --raw /readyz >/dev/null || die "the local cluster's API server is not answering"
export KUBECONFIG=$KUBECONFIG_FILE

step "helm upgrade --install $RELEASE ($NAMESPACE) with values/local-sim.yaml"
"$HELM" upgrade --install "$RELEASE" "$CHART_DIR" -n "$NAMESPACE" --create-namespace -f "$VALUES" \
  >"$LOGS/demo-helm.log" 2>&1 || { cat "$LOGS/demo-helm.log" >&2; die "helm install failed"; }
grep -E '^(STATUS|REVISION):' "$LOGS/demo-helm.log" | sed 's/^/[demo]   /' >&2

step "waiting for a ready replica behind the Service (progress every 5s, up to 180s)"
svc=$(kctl get svc -n "$NAMESPACE" -l "app.kubernetes.io/instance=$RELEASE" -o jsonpath='{.items[0].metadata.name}')
[[ -n $svc ]] || die "the release created no Service"
ready_endpoints() {
  kctl get endpointslices -n "$NAMESPACE" -l "kubernetes.io/service-name=$svc" -o json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["items"]:
    for e in s.get("endpoints") or []:
        if (e.get("conditions") or {}).get("ready"):
            print(e["addresses"][0], e.get("nodeName", ""))'
}
start=$SECONDS
until [[ -n $(ready_endpoints) ]]; do
  ((SECONDS - start < 180)) || {
    kctl get pods -n "$NAMESPACE" -o wide >&2
    die "no ready endpoint behind Service $svc after 180s"
  }
  kctl get pods -n "$NAMESPACE" --no-headers \
    -o custom-columns='POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase,READY:.status.containerStatuses[*].ready' |
    sed "s/^/[demo]   $((SECONDS - start))s  /" >&2
  sleep 5
done
log "ready endpoint(s) (address node): $(ready_endpoints | tr '\n' ' ') after $((SECONDS - start))s"

step "port-forward svc/$svc 127.0.0.1:$LOCAL_PORT -> http"
kctl port-forward -n "$NAMESPACE" "svc/$svc" --address 127.0.0.1 "$LOCAL_PORT:http" >"$LOGS/demo-port-forward.log" 2>&1 &
PF_PID=$!
wait_for "port-forward" 30 curl -fsS "http://127.0.0.1:$LOCAL_PORT/health"

step "chat completion through the Service"
model=$(curl -fsS "http://127.0.0.1:$LOCAL_PORT/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
body=$(python3 -c 'import json,sys; print(json.dumps({"model": sys.argv[1], "max_tokens": 32,
  "messages": [{"role": "user", "content": "Say hello from the local GPU cluster."}]}))' "$model")
response=$(curl -fsS "http://127.0.0.1:$LOCAL_PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "$body")
python3 - "$response" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
print(f"model: {r['model']}")
print(f"completion: {r['choices'][0]['message']['content']!r}")
print(f"usage: {r['usage']}")
EOF

step "pods by pool and node"
kctl get pods -n "$NAMESPACE" -o wide --no-headers \
  -o custom-columns='POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase,READY:.status.conditions[?(@.type=="Ready")].status' |
  while read -r pod node phase ready; do
    if [[ $node == "<none>" ]]; then
      printf '  %-45s not scheduled (%s)\n' "$pod" "$phase"
      continue
    fi
    labels=$(kctl get node "$node" -o jsonpath='{.metadata.labels.karpenter\.sh/capacity-type} {.metadata.labels.topology\.kubernetes\.io/zone} {.metadata.annotations.kwok\.x-k8s\.io/node}' 2>/dev/null || true)
    read -r ct zone fake <<<"$labels"
    kind=real; [[ $fake == fake ]] && kind="simulated (kwok: Running, never Ready)"
    printf '  %-45s node=%-28s capacity-type=%-10s zone=%-8s %s ready=%s %s\n' \
      "$pod" "$node" "${ct:-?}" "${zone:-?}" "$phase" "$ready" "$kind"
  done

step "metrics"
cat <<EOF
  vLLM metrics of the serving replica (through the Service, while port-forwarded):
    kubectl --kubeconfig $KUBECONFIG_FILE -n $NAMESPACE port-forward svc/$svc $LOCAL_PORT:http
    curl -s http://127.0.0.1:$LOCAL_PORT/metrics | grep '^vllm:'
  sample now: $(curl -fsS "http://127.0.0.1:$LOCAL_PORT/metrics" | grep -c '^vllm:') vllm: series, e.g.
$(curl -fsS "http://127.0.0.1:$LOCAL_PORT/metrics" | grep -E '^vllm:(num_requests_running|kv_cache_usage_perc)' | head -4 | sed 's/^/    /')
  kubectl: export KUBECONFIG=$KUBECONFIG_FILE
EOF
log "demo ok in $SECONDS s"

#!/usr/bin/env bash
# The demo on the local cluster (run after cluster-up; `make demo` does both): installs the chart with
# values/local-sim.yaml (an on-demand and a spot pool, each on its real GPU node), waits until both serve,
# then sends completions through the Service the way a client in the cluster does (from a node, where its
# kube-proxy routes the ClusterIP) until each pool has answered one, printing the pod and node that answered
# each, and shows which pods run where and where the metrics are.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/proc.sh"

RELEASE="${DEMO_RELEASE:-vllm}"
NAMESPACE="${DEMO_NAMESPACE:-vllm-demo}"
VALUES="$ROOT/values/local-sim.yaml"
CHART_DIR="$ROOT/charts/vllm-inference"
HELM="${HELM:-$ROOT/.tools/bin/helm}"
CLIENT_NODE=$(real_node_names | head -1) # the on-demand node: where the demo's client runs
MAX_TRIES=20

step() { printf '\n[demo] == %s\n' "$*" >&2; CURRENT_STEP=$*; }
CURRENT_STEP=start
trap 'rc=$?; ((rc == 0)) || printf "[demo] error: demo failed at step: %s\n" "$CURRENT_STEP" >&2' EXIT

step "preflight"
[[ $(id -u) -eq 0 ]] || die "the demo needs root (it runs its client in a node's network namespace)"
[[ -f $KUBECONFIG_FILE ]] || die "no $KUBECONFIG_FILE: run make cluster-up first"
[[ -x $HELM ]] || die "helm not found at $HELM: run make tools"
kctl get --raw /readyz >/dev/null || die "the local cluster's API server is not answering"
export KUBECONFIG=$KUBECONFIG_FILE

step "helm upgrade --install $RELEASE ($NAMESPACE) with values/local-sim.yaml, --wait"
"$HELM" upgrade --install "$RELEASE" "$CHART_DIR" -n "$NAMESPACE" --create-namespace -f "$VALUES" \
  --wait --timeout 180s >"$LOGS/demo-helm.log" 2>&1 || { cat "$LOGS/demo-helm.log" >&2; die "helm install failed"; }
grep -E '^(STATUS|REVISION):' "$LOGS/demo-helm.log" | sed 's/^/[demo]   /' >&2

# serving_pods: "pod ip node pool" for every pod behind the Service that is ready.
svc=$(kctl get svc -n "$NAMESPACE" -l "app.kubernetes.io/instance=$RELEASE" -o jsonpath='{.items[0].metadata.name}')
[[ -n $svc ]] || die "the release created no Service"
serving_pods() {
  kctl get pods -n "$NAMESPACE" -l "app.kubernetes.io/instance=$RELEASE" -o json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    pool = p["metadata"]["labels"].get("app.kubernetes.io/component", "")
    if ready and pool.startswith("pool-") and "deletionTimestamp" not in p["metadata"]:
        print(p["metadata"]["name"], p["status"]["podIP"], p["spec"]["nodeName"], pool.removeprefix("pool-"))'
}
step "waiting for both pools behind Service $svc"
start=$SECONDS
until [[ $(serving_pods | awk '{print $4}' | sort -u | wc -l) == 2 ]]; do
  ((SECONDS - start < 120)) || { kctl get pods -n "$NAMESPACE" -o wide >&2; die "both pools not ready after 120s"; }
  sleep 2
done
mapfile -t PODS < <(serving_pods)
cluster_ip=$(kctl get svc -n "$NAMESPACE" "$svc" -o jsonpath='{.spec.clusterIP}')
port=$(kctl get svc -n "$NAMESPACE" "$svc" -o jsonpath='{.spec.ports[0].port}')
url="http://$cluster_ip:$port"
log "ready: ${#PODS[@]} pods; the Service: $url (ClusterIP, routed by the client node's kube-proxy)"

# answered IP: requests the server at IP has finished (vllm:request_success_total), read from the client node.
answered() {
  in_node_net "$CLIENT_NODE" curl -fsS "http://$1:8000/metrics" |
    awk '/^vllm:request_success_total/ {s += $2} END {print s + 0}'
}

step "completions through the Service from node $CLIENT_NODE until each pool has answered"
declare -A count=() seen=()
for entry in "${PODS[@]}"; do read -r _ ip _ _ <<<"$entry"; count[$ip]=$(answered "$ip"); done
model=$(in_node_net "$CLIENT_NODE" curl -fsS "$url/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
for ((i = 1; i <= MAX_TRIES && ${#seen[@]} < 2; i++)); do
  body=$(python3 -c 'import json,sys; print(json.dumps({"model": sys.argv[1], "max_tokens": 16,
    "messages": [{"role": "user", "content": "Say hello from the local GPU cluster."}]}))' "$model")
  reply=$(in_node_net "$CLIENT_NODE" curl -fsS "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$body")
  text=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["choices"][0]["message"]["content"][:60])' "$reply")
  for entry in "${PODS[@]}"; do
    read -r pod ip node pool <<<"$entry"
    now=$(answered "$ip")
    if [[ $now != "${count[$ip]}" ]]; then
      count[$ip]=$now
      seen[$pool]=1
      printf '  completion %d: %-62s answered by %s on %s (pool %s)\n' "$i" "'$text'" "$pod" "$node" "$pool"
    fi
  done
done
((${#seen[@]} == 2)) || die "after $MAX_TRIES completions only these pools answered: ${!seen[*]}"

step "pods by pool and node"
kctl get pods -n "$NAMESPACE" -o wide --no-headers \
  -o custom-columns='POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase,READY:.status.conditions[?(@.type=="Ready")].status' |
  while read -r pod node phase ready; do
    spot=$(kctl get node "$node" -o jsonpath='{.metadata.labels.cloud\.google\.com/gke-spot}' 2>/dev/null || true)
    zone=$(kctl get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}' 2>/dev/null || true)
    printf '  %-48s node=%-26s %-9s zone=%-8s %s ready=%s\n' "$pod" "$node" "$([[ $spot == true ]] && echo spot || echo on-demand)" "${zone:-?}" "$phase" "$ready"
  done

step "metrics"
cat <<EOF
  Each pod serves vLLM's metrics on :8000/metrics; from a node (where pod IPs and ClusterIPs route):
    bash hack/cluster/node.sh exec $CLIENT_NODE curl -s $url/metrics | grep '^vllm:'
  Load through the Service (the project's load client):
    bash hack/cluster/node.sh exec $CLIENT_NODE .venv/bin/vllm-load --url $url --rate 5 --requests 50
  kubectl: export KUBECONFIG=$KUBECONFIG_FILE
EOF
log "demo ok in $SECONDS s"

#!/usr/bin/env bash
# Brings up the local cluster (see docs/cluster.md): a control plane on the host (etcd, controller-manager,
# scheduler on 127.0.0.1; kube-apiserver on the bridge address), CoreDNS on the host, two real GPU workers, an
# on-demand and a spot one, each in its own network and mount namespaces (containerd, runc, CNI bridge,
# kubelet, kube-proxy, the fake GPU device plugin: nodes.sh), and simulated GPU/CPU node pools (kwok).
# Idempotent: running components are left alone, missing ones are started. Writes build/cluster/kubeconfig.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/proc.sh"
source "$HERE/ledger.sh"
source "$HERE/nodes.sh"
source "$HERE/disk.sh"

step() { printf '\n[cluster] == %s\n' "$*" >&2; CURRENT_STEP=$*; }
CURRENT_STEP=start
# node_pressure: the real nodes' pressure conditions that hold (DiskPressure evicts and keeps pods off a node,
# which a wait for the add-ons only reports as a timeout), one line each; nothing when there is no API.
node_pressure() {
  [[ -f $KUBECONFIG_FILE ]] || return 0
  # shellcheck disable=SC2016 # a Go template, not shell
  kctl get nodes --request-timeout=5s -o go-template='{{range .items}}{{$n := .metadata.name}}{{range .status.conditions}}{{if eq .status "True"}}{{$n}}{{"\t"}}{{.type}}{{"\t"}}{{.message}}{{"\n"}}{{end}}{{end}}{{end}}' \
    2>/dev/null | awk -F'\t' '$2 ~ /Pressure$/ {printf "[cluster] node %s: %s: %s\n", $1, $2, $3}' >&2 || true
}
on_exit() {
  local rc=$1
  ((rc == 0)) && return
  printf "[cluster] error: cluster-up failed at step: %s (logs in %s)\n" "$CURRENT_STEP" "$LOGS" >&2
  node_pressure
}
trap 'on_exit $?' EXIT

[[ $(id -u) -eq 0 ]] || die "cluster-up needs root (containerd, kubelet, network setup)"
if other=$(foreign_owner); then
  die "a local cluster of another checkout is running ($other): run make cluster-down there first"
fi
mkdir -p "$STATE" "$LOGS" "$PIDS" "$RUN_DIR"
printf '%s\n' "$STATE" >"$OWNER_FILE"
ledger_open

prepare() {
  step "cluster tier tools: packages (apt), binaries (Go module proxy), kubectl, images (no registry)"
  disk_preflight
  bash "$ROOT/hack/install-tools.sh" cluster
  bash "$HERE/pki.sh"
}

network() {
  step "host network: forwarding, bridge $BRIDGE ($BRIDGE_IP) joining the real nodes, iptables chain $IPT_CHAIN"
  # Before the first rule of ours: the tables cluster-down returns to. The nodes' components write theirs in
  # the nodes' own network namespaces.
  netfilter_snapshot
  set_sysctl net.ipv4.ip_forward 1
  # The bridge exists before the API server and CoreDNS bind its address.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$BRIDGE_IP/${NODE_NET#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The host routes between the nodes' pod networks: forward the bridge's traffic even where the host's
  # FORWARD policy drops (Docker sets it so).
  iptables -w -N "$IPT_CHAIN" 2>/dev/null || iptables -w -F "$IPT_CHAIN"
  iptables -w -A "$IPT_CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  iptables -w -C FORWARD -j "$IPT_CHAIN" 2>/dev/null || iptables -w -I FORWARD -j "$IPT_CHAIN"
}

control_plane() {
  step "control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler"
  start_proc etcd "$ETCD_BIN/etcd" --name local --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes 2147483648
  wait_for "etcd health" 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  start_proc kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$BRIDGE_IP" --secure-port "$APISERVER_PORT" --advertise-address "$BRIDGE_IP" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --authorization-mode RBAC --allow-privileged=true \
    --enable-aggregator-routing=true \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key"
  wait_for "kube-apiserver /readyz" 90 kctl get --raw /readyz

  start_proc kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG_FILE" --authentication-kubeconfig "$KUBECONFIG_FILE" \
    --authorization-kubeconfig "$KUBECONFIG_FILE" \
    --bind-address 127.0.0.1 --leader-elect=false \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
    --use-service-account-credentials=false --service-cluster-ip-range "$SERVICE_CIDR"
  start_proc kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$KUBECONFIG_FILE" --authentication-kubeconfig "$KUBECONFIG_FILE" \
    --authorization-kubeconfig "$KUBECONFIG_FILE" --bind-address 127.0.0.1 --leader-elect=false
  wait_for "default service account" 60 kctl get serviceaccount default -n default
}

dns() {
  step "cluster DNS: CoreDNS on $CLUSTER_DNS_IP:53 (host process)"
  cat >"$STATE/Corefile" <<EOF
.:53 {
    bind $CLUSTER_DNS_IP
    errors
    health 127.0.0.1:$COREDNS_HEALTH_PORT
    ready 127.0.0.1:$COREDNS_READY_PORT
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_FILE vllm-inference-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
EOF
  start_proc coredns "$COREDNS_BIN/coredns" -conf "$STATE/Corefile"
  wait_for "CoreDNS ready" 60 curl -fsS "http://127.0.0.1:$COREDNS_READY_PORT/ready"
}

real_nodes() {
  local node
  for node in $(real_node_names); do
    step "real GPU node $node: namespaces, containerd, kubelet, kube-proxy, $REAL_NODE_GPUS x nvidia.com/gpu ($REAL_NODE_GPU_TYPE)"
    node_up "$node"
  done
}

simulated_pools() {
  step "simulated node pools (kwok): on-demand and spot GPU nodes, a CPU node"
  start_proc kwok "$KWOK_BIN/kwok" --kubeconfig "$KUBECONFIG_FILE" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --config "$ROOT/deploy/kwok/stages.yaml" --cidr "$KWOK_POD_CIDR" --node-ip "$KWOK_NODE_IP" \
    --server-address "127.0.0.1:$KWOK_SERVER_PORT"
  kctl apply -f "$ROOT/deploy/kwok/nodes.yaml" >/dev/null
  wait_for "simulated nodes Ready" 60 \
    kctl wait --for=condition=Ready node -l kwok.x-k8s.io/simulated=true --timeout=1s
}

addons() {
  if [[ ${VLLM_CLUSTER_ADDONS:-all} == none ]]; then log "add-ons skipped (VLLM_CLUSTER_ADDONS=none)"; return; fi
  step "autoscaling add-ons: KEDA $KEDA_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION, Prometheus $PROMETHEUS_SERVER_VERSION"
  bash "$HERE/addons.sh"
}

summary() {
  step "ready"
  kctl get nodes -L cloud.google.com/gke-nodepool,cloud.google.com/gke-spot,topology.kubernetes.io/zone \
    -o wide >&2 || true
  log "kubeconfig: $KUBECONFIG_FILE   (export KUBECONFIG=$KUBECONFIG_FILE)"
}

STEPS=(prepare network control_plane dns real_nodes simulated_pools addons summary)

# up.sh [STEP...]: all steps in order, or only the named ones (for debugging one component).
main() {
  local start=$SECONDS s
  (($# > 0)) || set -- "${STEPS[@]}"
  for s in "$@"; do
    [[ " ${STEPS[*]} " == *" $s "* ]] || die "unknown step '$s' (steps: ${STEPS[*]})"
    "$s"
  done
  log "cluster-up took $((SECONDS - start))s"
}
main "$@"

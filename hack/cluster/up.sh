#!/usr/bin/env bash
# Brings up the local cluster (see docs/cluster.md): a control plane on 127.0.0.1 (etcd, kube-apiserver,
# controller-manager, scheduler), one real GPU worker (containerd, runc, CNI bridge, kubelet, kube-proxy, the
# fake GPU device plugin), CoreDNS on the host, and simulated GPU/CPU node pools (kwok).
# Idempotent: running components are left alone, missing ones are started. Writes build/cluster/kubeconfig.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/proc.sh"
source "$HERE/ledger.sh"

step() { printf '\n[cluster] == %s\n' "$*" >&2; CURRENT_STEP=$*; }
CURRENT_STEP=start
trap 'rc=$?; ((rc == 0)) || printf "[cluster] error: cluster-up failed at step: %s (logs in %s)\n" "$CURRENT_STEP" "$LOGS" >&2' EXIT

[[ $(id -u) -eq 0 ]] || die "cluster-up needs root (containerd, kubelet, network setup)"
if other=$(foreign_owner); then
  die "a local cluster of another checkout is running ($other): run make cluster-down there first"
fi
mkdir -p "$STATE" "$LOGS" "$PIDS" "$RUN_DIR"
printf '%s\n' "$STATE" >"$OWNER_FILE"
ledger_open

prepare() {
  step "cluster tier tools: packages (apt), binaries (Go module proxy), kubectl, images (no registry)"
  bash "$ROOT/hack/install-tools.sh" cluster
  bash "$HERE/pki.sh"
}

network() {
  step "host network: forwarding, bridge $BRIDGE ($BRIDGE_IP), iptables chain $IPT_CHAIN"
  # Before the first rule of ours, kubelet's, kube-proxy's or portmap's: the tables cluster-down returns to.
  netfilter_snapshot
  set_sysctl net.ipv4.ip_forward 1
  set_sysctl net.bridge.bridge-nf-call-iptables 1
  # The bridge exists before the first pod so the kubelet, CoreDNS and kube-proxy can use its address.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$BRIDGE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Pods reach CoreDNS on the bridge address but not the kubelet's API (anonymous + AlwaysAllow).
  iptables -w -N "$IPT_CHAIN" 2>/dev/null || iptables -w -F "$IPT_CHAIN"
  iptables -w -A "$IPT_CHAIN" -i "$BRIDGE" -d "$BRIDGE_IP" -p tcp --dport 10250 -j REJECT
  iptables -w -C INPUT -j "$IPT_CHAIN" 2>/dev/null || iptables -w -I INPUT -j "$IPT_CHAIN"
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
    --bind-address 127.0.0.1 --secure-port "$APISERVER_PORT" --advertise-address 127.0.0.1 \
    --endpoint-reconciler-type none \
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

# CAP_SYS_RESOURCE is capability bit 24 of the effective set.
has_cap_sys_resource() {
  local eff; eff=$(awk '/^CapEff/ {print $2}' /proc/self/status)
  (( (16#$eff >> 24) & 1 ))
}

container_runtime() {
  step "container runtime: containerd ($CONTAINERD_SOCK), CNI bridge ($POD_CIDR)"
  mkdir -p "$STATE/cni/net.d" "$RUN_DIR/containerd" "$CONTAINERD_ROOT"
  local RESTRICT_OOM=false
  has_cap_sys_resource || RESTRICT_OOM=true
  cat >"$STATE/cni/net.d/10-vllm-inference.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "vllm-inference",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$RUN_DIR/cni-ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$STATE/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Pod network namespaces under our state ($NETNS_DIR) rather than /run/netns, which other runtimes share.
  netns_mounts_under_state_dir = true
  # Without CAP_SYS_RESOURCE (as in this VM) a negative oom_score_adj kills runc's init: clamp it instead.
  restrict_oom_score_adj = $RESTRICT_OOM
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_ROOT/opt"
EOF
  start_proc containerd containerd --config "$STATE/containerd.toml"
  wait_for "containerd socket" 30 ctr --address "$CONTAINERD_SOCK" version
  bash "$HERE/import-images.sh"
}

kubelet() {
  step "real GPU worker: kubelet $REAL_NODE ($BRIDGE_IP), kube-proxy"
  record_new_dir "$DEVICE_PLUGIN_DIR"
  mkdir -p "$KUBELET_ROOT" "$DEVICE_PLUGIN_DIR"
  # Pod logs of an earlier cluster: the kubelet only collects those of pods it knows.
  pid_alive kubelet || rm -rf "$POD_LOGS"
  mkdir -p "$POD_LOGS"
  record_new_cgroup kubepods
  cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
podLogsDir: $POD_LOGS
registerWithTaints:
- key: gpu
  value: "true"
  effect: NoSchedule
# Hand-imported images are never pulled again: keep image GC from removing them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
  nodefs.inodesFree: 2%
maxPods: 40
serializeImagePulls: false
EOF
  local labels=(
    "karpenter.sh/capacity-type=on-demand"
    "topology.kubernetes.io/zone=$REAL_NODE_ZONE"
    "nvidia.com/gpu.present=true"
    "nvidia.com/gpu.product=NVIDIA-$REAL_NODE_GPU_TYPE"
    "vllm-inference.local/node=real"
    "vllm-inference.local/pool=gpu-on-demand"
  )
  start_proc kubelet "$K8S_BIN/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$KUBECONFIG_FILE" \
    --root-dir "$KUBELET_ROOT" --cert-dir "$KUBELET_ROOT/pki" --hostname-override "$REAL_NODE" \
    --node-ip "$BRIDGE_IP" --node-labels "$(IFS=,; echo "${labels[*]}")"
  wait_for "node $REAL_NODE Ready" 120 \
    kctl wait --for=condition=Ready "node/$REAL_NODE" --timeout=1s

  start_proc kube-proxy "$K8S_BIN/kube-proxy" --kubeconfig "$KUBECONFIG_FILE" \
    --hostname-override "$REAL_NODE" --bind-address 127.0.0.1 --proxy-mode iptables \
    --cluster-cidr "$POD_CIDR" --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256 \
    --conntrack-max-per-core 0
  wait_for "kube-proxy healthz" 60 curl -fsS http://127.0.0.1:10256/healthz
}

device_plugin() {
  step "fake GPU device plugin: $REAL_NODE_GPUS x nvidia.com/gpu ($REAL_NODE_GPU_TYPE)"
  start_proc gpu-device-plugin "$ROOT/.venv/bin/python" -m gpu_device_plugin \
    --count "$REAL_NODE_GPUS" --gpu-type "$REAL_NODE_GPU_TYPE" \
    --kubelet-dir "$DEVICE_PLUGIN_DIR"
  wait_for "nvidia.com/gpu allocatable on $REAL_NODE" 60 gpus_advertised
}
gpus_advertised() {
  [[ $(kctl get node "$REAL_NODE" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}') == "$REAL_NODE_GPUS" ]]
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

summary() {
  step "ready"
  kctl get nodes -L karpenter.sh/capacity-type,topology.kubernetes.io/zone,nvidia.com/gpu.product \
    -o wide >&2 || true
  log "kubeconfig: $KUBECONFIG_FILE   (export KUBECONFIG=$KUBECONFIG_FILE)"
}

STEPS=(prepare network control_plane dns container_runtime kubelet device_plugin simulated_pools summary)

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

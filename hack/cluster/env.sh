# Shared settings of the local cluster, sourced by the scripts in hack/cluster/ (not executable on its own).
# Every address, range and path the cluster uses is defined here once.
# shellcheck shell=bash
# shellcheck disable=SC2034 # settings for the scripts that source this file, which shellcheck checks one by one

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../versions.env
source "$ROOT/hack/versions.env"
CACHE="${VLLM_INFERENCE_CACHE:-$HOME/.cache/vllm-inference}"

# Binaries (hack/cluster/build-binaries.sh builds them into the version-keyed cache).
K8S_BIN="$CACHE/kubernetes-$KUBERNETES_VERSION/bin"
ETCD_BIN="$CACHE/etcd-$ETCD_VERSION/bin"
KWOK_BIN="$CACHE/kwok-$KWOK_VERSION/bin"
COREDNS_PLUGINS_REV=p2 # revision of the plugin set compiled in (build-binaries.sh): part of the cache key
COREDNS_BIN="$CACHE/coredns-$COREDNS_VERSION-$COREDNS_PLUGINS_REV/bin"
KUBECTL="$K8S_BIN/kubectl"

# State: files under build/cluster (gitignored); sockets and runtime state under /run/vllm-inference; the
# kubelet's state under /var/lib/vllm-inference. Both host directories are named for this project, so
# cluster-down removes them whole and never a directory another Kubernetes (k3s: /var/lib/kubelet) uses.
STATE="$ROOT/build/cluster"
KUBECONFIG_FILE="$STATE/kubeconfig"
PKI="$STATE/pki"
LOGS="$STATE/logs"
POD_LOGS="$LOGS/pods" # the kubelet's podLogsDir: kept after cluster-down like the components' logs
PIDS="$STATE/pids"
RUN_DIR=/run/vllm-inference
LEDGER="$RUN_DIR/ledger" # what cluster-up created under shared names (ledger.sh)
CONTAINERD_SOCK="$RUN_DIR/containerd/containerd.sock"
CONTAINERD_STATE="$RUN_DIR/containerd/state"
# The pods' network namespaces (netns_mounts_under_state_dir): under our state, never /run/netns.
NETNS_DIR="$CONTAINERD_STATE/io.containerd.grpc.v1.cri/netns"
CONTAINERD_ROOT="$STATE/containerd"
VAR_DIR=/var/lib/vllm-inference
KUBELET_ROOT="$VAR_DIR/kubelet" # the kubelet's --root-dir and --cert-dir parent
# Fixed by the kubelet whatever its --root-dir (deviceplugin/v1beta1 DevicePluginPath): device plugins
# register at $DEVICE_PLUGIN_DIR/kubelet.sock. cluster-up records whether it created it (ledger.sh).
DEVICE_PLUGIN_DIR=/var/lib/kubelet/device-plugins

# Network: pods and services in 198.18.0.0/15 only. The bridge gateway is the real node's address (a kubelet
# refuses a loopback node IP); control-plane components listen on 127.0.0.1 only.
BRIDGE=vllmbr0
POD_CIDR=198.18.0.0/24
BRIDGE_IP=198.18.0.1
SERVICE_CIDR=198.19.0.0/24
KWOK_NODE_IP=198.18.1.1    # address reported by the simulated (kwok) nodes; nothing listens there
KWOK_POD_CIDR=198.18.2.0/24 # addresses kwok gives the pods it simulates
CLUSTER_DNS_IP=$BRIDGE_IP   # CoreDNS runs on the host, on the bridge address
CLUSTER_DOMAIN=cluster.local
IPT_CHAIN=VLLM-INFERENCE-INPUT # our own iptables rules live in this chain only (netfilter.py: OWN_PREFIXES)

ETCD_PORT=12379
ETCD_PEER_PORT=12380
APISERVER_PORT=16443
KWOK_SERVER_PORT=10247
COREDNS_HEALTH_PORT=18080
COREDNS_READY_PORT=18181

# The real worker node and what it pretends to be.
REAL_NODE=vllm-gpu-ondemand-real-0
REAL_NODE_ZONE=local-a
REAL_NODE_GPUS="${VLLM_LOCAL_GPUS:-2}"
REAL_NODE_GPU_TYPE="${VLLM_LOCAL_GPU_TYPE:-L4}"

# Images built without a registry (hack/build-images.sh, definitions in images/).
PAUSE_IMAGE=localhost/vllm-inference/pause:0.1.0
SIM_IMAGE=localhost/vllm-inference/vllm-sim:0.1.0
DEVICE_PLUGIN_IMAGE=localhost/vllm-inference/fake-gpu-device-plugin:0.1.0 # deploy/fake-gpu-device-plugin

log() { printf '[cluster] %s\n' "$*" >&2; }
die() {
  printf '[cluster] error: %s\n' "$*" >&2
  exit 1
}

# pid_alive NAME: the process recorded in $PIDS/NAME.pid is running.
pid_alive() {
  local f="$PIDS/$1.pid"
  [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

# kctl ARGS...: kubectl against the local cluster.
kctl() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# One local cluster per host: /run/vllm-inference/owner names the checkout whose cluster holds the host-wide
# pieces (ports, bridge, $RUN_DIR, $VAR_DIR). foreign_owner prints that checkout's state dir when it is another
# checkout and one of its processes still runs.
OWNER_FILE="$RUN_DIR/owner"
foreign_owner() {
  local owner f
  [[ -f $OWNER_FILE ]] || return 1
  owner=$(cat "$OWNER_FILE")
  [[ $owner != "$STATE" ]] || return 1
  for f in "$owner"/pids/*.pid; do
    if [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null; then
      printf '%s\n' "$owner"
      return 0
    fi
  done
  return 1
}

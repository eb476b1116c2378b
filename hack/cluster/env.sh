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
# The autoscaling add-ons (hack/cluster/build-addons.sh), in the cluster as pods (hack/cluster/addons.sh).
KEDA_BIN="$CACHE/keda-$KEDA_VERSION/bin"
PROMETHEUS_OPERATOR_BIN="$CACHE/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/bin"
PROMETHEUS_BIN="$CACHE/prometheus-$PROMETHEUS_VERSION/bin"
KUBE_STATE_METRICS_BIN="$CACHE/kube-state-metrics-$KUBE_STATE_METRICS_VERSION/bin"
# Prometheus 3.MM.P from its Go module version v0.3MM.P (what prometheus-operator is told: spec.version).
PROMETHEUS_SERVER_VERSION="v3.$((10#$(v=${PROMETHEUS_VERSION#v0.3}; printf '%s' "${v%%.*}"))).${PROMETHEUS_VERSION##*.}"

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
VAR_DIR=/var/lib/vllm-inference
# The host paths every kubelet, containerd and CNI plugin uses whatever their configuration (the kubelet's
# device-plugin socket /var/lib/kubelet/device-plugins/kubelet.sock is fixed by the device-plugin API; the CNI
# plugins' cache and containerd's shim sockets likewise). Each real node sees its own directory there: its
# processes run in a private mount namespace with a per-node directory bound over each (nodes.sh). On the host
# they are only mount points; cluster-up records which of them it created (ledger.sh).
NODE_PRIVATE_DIRS=(/var/lib/kubelet /var/lib/cni /run/containerd)
DEVICE_PLUGIN_DIR=/var/lib/kubelet/device-plugins # as a node's processes see it

# Network: pods and services in 198.18.0.0/15 only. The host bridge joins the real nodes: each runs in its own
# network namespace with a veth on the bridge, its node IP in $NODE_NET and its pods on a bridge of its own
# in its own /24 of $CLUSTER_POD_CIDR, routed by the host. The host's bridge address serves the API server
# and CoreDNS; every other control-plane component listens on 127.0.0.1 only.
BRIDGE=vllmbr0
BRIDGE_IP=198.18.0.1
NODE_NET=198.18.0.0/24
CLUSTER_POD_CIDR=198.18.16.0/20 # every real node's pod /24 (kube-proxy's --cluster-cidr)
SERVICE_CIDR=198.19.0.0/24
KWOK_NODE_IP=198.18.1.1    # address reported by the simulated (kwok) nodes; nothing listens there
KWOK_POD_CIDR=198.18.2.0/24 # addresses kwok gives the pods it simulates
CLUSTER_DNS_IP=$BRIDGE_IP   # CoreDNS runs on the host, on the bridge address
CLUSTER_DOMAIN=cluster.local
IPT_CHAIN=VLLM-INFERENCE-FORWARD # the host's only rules: forward the bridge's traffic (netfilter.py: OWN_PREFIXES)
NODE_IPT_CHAIN=VLLM-INFERENCE-INPUT # in each node's namespace: pods may not reach the kubelet's port

ETCD_PORT=12379
ETCD_PEER_PORT=12380
APISERVER_PORT=16443
APISERVER_URL="https://$BRIDGE_IP:$APISERVER_PORT"
KWOK_SERVER_PORT=10247
COREDNS_HEALTH_PORT=18080
COREDNS_READY_PORT=18181

# The real worker nodes, labelled and tainted as GKE labels a node pool (capacityType.provider gke): the spot
# node carries cloud.google.com/gke-spot=true and the cloud.google.com/gke-spot=true:NoSchedule taint, the
# on-demand one neither. One line each: name, node IP, pod /24, capacity type, zone, host end of its veth.
REAL_NODES=(
  "vllm-gpu-ondemand-real-0 198.18.0.2 198.18.16.0/24 on-demand local-a vllmveth0"
  "vllm-gpu-spot-real-0 198.18.0.3 198.18.17.0/24 spot local-b vllmveth1"
)
REAL_NODE_GPUS="${VLLM_LOCAL_GPUS:-4}"
REAL_NODE_GPU_TYPE="${VLLM_LOCAL_GPU_TYPE:-L4}"
NODES_RUN="$RUN_DIR/nodes" # per node: namespace files, containerd socket and state, the private directories
NODES_VAR="$VAR_DIR/nodes" # per node: the kubelet's root (seen by the node as /var/lib/kubelet)
CGROUP_PARENT=vllm-inference # every kubelet's cgroupRoot is /$CGROUP_PARENT/<node>, in every hierarchy
# Disk: a real node's kubelet evicts every pod when its filesystems (kubelet root, image store: both on the
# host's) have less than KUBELET_EVICTION_FREE_MIB free, an absolute figure because a percentage of a large
# shared disk can be gigabytes that are not there (2 % of 252 GiB is 5 GiB). A real node's image store takes
# NODE_IMAGE_STORE_MIB the first time its images are imported (2.3 GiB measured, simulator image included);
# cluster-up refuses to start without room for both (up.sh disk_preflight).
KUBELET_EVICTION_FREE_MIB=1024
NODE_IMAGE_STORE_MIB=2560
CLUSTER_RUN_MIB=1024 # etcd, logs, pod volumes and the host containerd of one e2e tier, with margin

# real_node_names: the real nodes' names, one a line.
real_node_names() {
  local spec
  for spec in "${REAL_NODES[@]}"; do printf '%s\n' "${spec%% *}"; done
}

# node_env NAME: the settings of one real node, as NODE_* variables.
node_env() {
  local spec name
  for spec in "${REAL_NODES[@]}"; do
    read -r name NODE_IP NODE_POD_CIDR NODE_CAPACITY NODE_ZONE NODE_VETH <<<"$spec"
    [[ $name == "$1" ]] || continue
    NODE_NAME=$name
    NODE_POD_GATEWAY="${NODE_POD_CIDR%.0/24}.1"
    NODE_RUN="$NODES_RUN/$name"
    NODE_NETNS="$NODE_RUN/netns" # persistent namespaces (bind mounts of nsfs files)
    NODE_MNTNS="$NODE_RUN/mntns"
    NODE_CONTAINERD_SOCK="$NODE_RUN/containerd/containerd.sock"
    NODE_CONTAINERD_STATE="$NODE_RUN/containerd/state"
    NODE_CONTAINERD_ROOT="$STATE/nodes/$name/containerd" # the image store survives cluster-down
    NODE_STATE="$STATE/nodes/$name"                      # configuration files
    NODE_POD_LOGS="$POD_LOGS/$name"
    NODE_CGROUP="$CGROUP_PARENT/$name"
    return 0
  done
  die "unknown real node '$1' (real nodes: $(real_node_names | tr '\n' ' '))"
}

# node_private_dir NAME PATH: the per-node directory bound over PATH in NAME's mount namespace.
node_private_dir() {
  case $2 in
    /var/lib/kubelet) printf '%s\n' "$NODES_VAR/$1/kubelet" ;;
    *) printf '%s/%s/private%s\n' "$NODES_RUN" "$1" "$2" ;;
  esac
}

# in_node NAME CMD...: run CMD in real node NAME's network and mount namespaces.
in_node() {
  local name=$1; shift
  node_env "$name"
  nsenter --net="$NODE_NETNS" --mount="$NODE_MNTNS" -- "$@"
}

# in_node_net NAME CMD...: run CMD in real node NAME's network namespace only (the host's files): where
# ClusterIP routing works through the node's kube-proxy, e.g. the load client.
in_node_net() {
  local name=$1; shift
  node_env "$name"
  nsenter --net="$NODE_NETNS" -- "$@"
}

# Images built without a registry (hack/build-images.sh, definitions in images/).
PAUSE_IMAGE=localhost/vllm-inference/pause:0.1.0
SIM_IMAGE=localhost/vllm-inference/vllm-sim:0.1.0
DEVICE_PLUGIN_IMAGE=localhost/vllm-inference/fake-gpu-device-plugin:0.1.0 # deploy/fake-gpu-device-plugin
# The autoscaling add-ons (hack/cluster/addons.sh), tagged with the versions they are built at.
HAPROXY_IMAGE_TAG=2.6-bookworm # Debian bookworm's haproxy package
KEDA_IMAGE=localhost/vllm-inference/keda:$KEDA_VERSION
PROMETHEUS_OPERATOR_IMAGE=localhost/vllm-inference/prometheus-operator:$PROMETHEUS_OPERATOR_VERSION
PROMETHEUS_IMAGE=localhost/vllm-inference/prometheus:$PROMETHEUS_SERVER_VERSION
HAPROXY_IMAGE=localhost/vllm-inference/haproxy:$HAPROXY_IMAGE_TAG
KUBE_STATE_METRICS_IMAGE=localhost/vllm-inference/kube-state-metrics:$KUBE_STATE_METRICS_VERSION

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

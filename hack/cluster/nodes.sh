# The real worker nodes of the local cluster (docs/cluster.md, "The real GPU nodes"): each is a node of its
# own on one host, with
#   - its own network namespace ($NODE_NETNS): a veth on the host bridge with the node IP, a pod bridge with
#     the node's pod /24 (routed by the host), its own iptables (kube-proxy's, the CNI plugins', ours), so
#     removing the namespace removes them all and the host's tables never see them;
#   - its own mount namespace ($NODE_MNTNS, private propagation): a per-node directory bound over each of the
#     host paths every kubelet/containerd/CNI uses whatever its configuration ($NODE_PRIVATE_DIRS: the
#     kubelet's fixed device-plugin socket first), and the kubelet's and containers' mounts, which the host
#     never sees and which go with the namespace;
#   - its own cgroup subtree (/$CGROUP_PARENT/<node> in every hierarchy: the kubelet's cgroupRoot);
#   - its own containerd (root, state, socket), kubelet, kube-proxy and fake GPU device plugin, started by
#     PID (proc.sh) inside both namespaces;
#   - its own D-Bus system bus with a systemd-logind stand-in (logind.py): the kubelet's graceful node
#     shutdown takes its inhibitor lock there, and a power-off notice (node.sh poweroff) reaches it there.
# Sourced after env.sh, proc.sh and ledger.sh.
# shellcheck shell=bash

NODE_COMPONENTS=(gpu-device-plugin kube-proxy kubelet logind dbus containerd) # in stopping order
# GKE's graceful node shutdown: 30 s from the power-off notice, the first 15 s for ordinary pods.
SHUTDOWN_GRACE_S=30
SHUTDOWN_GRACE_CRITICAL_S=15

# The host bridge's namespace files live under $NODES_RUN, made a private mount so the persistent mount
# namespaces can be bound there (a mount namespace file may not sit on a shared mount) and nothing mounted
# below it propagates anywhere.
nodes_run_private() {
  mkdir -p "$NODES_RUN"
  if ! mountpoint -q "$NODES_RUN"; then
    mount --bind "$NODES_RUN" "$NODES_RUN"
    mount --make-private "$NODES_RUN"
  fi
}

# node_cgroups NAME: /$CGROUP_PARENT/NAME in every cgroup hierarchy, the kubelet's cgroupRoot (which must
# exist). cpuset needs cpus and mems before anything joins it.
node_cgroups() {
  local h d
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [[ -f $h/cgroup.procs ]] || continue
    for d in "$h/$CGROUP_PARENT" "$h/$NODE_CGROUP"; do
      [[ -d $d ]] || mkdir "$d"
      if [[ -f $d/cpuset.cpus && -z $(cat "$d/cpuset.cpus") ]]; then
        cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
        cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
      fi
    done
  done
}

# node_namespaces NAME: the node's network and mount namespaces, its veth, addresses and routes.
node_namespaces() {
  node_env "$1"
  nodes_run_private
  mkdir -p "$NODE_RUN" "$NODE_STATE"
  if ! mountpoint -q "$NODE_NETNS"; then
    touch "$NODE_NETNS"
    unshare --net="$NODE_NETNS" true
  fi
  if ! ip link show "$NODE_VETH" >/dev/null 2>&1; then
    ip link add "$NODE_VETH" type veth peer name eth0 netns "$NODE_NETNS"
  fi
  ip link set "$NODE_VETH" master "$BRIDGE" up
  nsenter --net="$NODE_NETNS" sh -ec "
    ip link set lo up
    ip addr replace $NODE_IP/${NODE_NET#*/} dev eth0
    ip link set eth0 up
    ip route replace default via $BRIDGE_IP
    # The node routes its pods' traffic; bridged pod traffic passes iptables (kube-proxy's Service rules).
    sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
    # Pods may not reach a kubelet's API (anonymous + AlwaysAllow), this node's or another's.
    iptables -w -N $NODE_IPT_CHAIN 2>/dev/null || iptables -w -F $NODE_IPT_CHAIN
    iptables -w -A $NODE_IPT_CHAIN -s $CLUSTER_POD_CIDR -p tcp --dport 10250 -j REJECT
    iptables -w -C INPUT -j $NODE_IPT_CHAIN 2>/dev/null || iptables -w -I INPUT -j $NODE_IPT_CHAIN"
  ip route replace "$NODE_POD_CIDR" via "$NODE_IP" dev "$BRIDGE"

  local dir private
  for dir in "${NODE_PRIVATE_DIRS[@]}"; do
    record_new_dir "$dir"
    mkdir -p "$dir" "$(node_private_dir "$1" "$dir")"
  done
  if ! mountpoint -q "$NODE_MNTNS"; then
    touch "$NODE_MNTNS"
    unshare --mount="$NODE_MNTNS" --propagation private true
    # Inside: no namespace file of any node (they would pin each other), and the node's own directories.
    nsenter --mount="$NODE_MNTNS" umount -R "$NODES_RUN"
    for dir in "${NODE_PRIVATE_DIRS[@]}"; do
      private=$(node_private_dir "$1" "$dir")
      nsenter --mount="$NODE_MNTNS" mount --bind "$private" "$dir"
    done
  fi
  node_cgroups
}

node_containerd() {
  node_env "$1"
  local restrict_oom=false
  has_cap_sys_resource || restrict_oom=true
  mkdir -p "$NODE_STATE/cni/net.d" "$NODE_CONTAINERD_ROOT" "$(dirname "$NODE_CONTAINERD_SOCK")"
  cat >"$NODE_STATE/cni/net.d/10-vllm-inference.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "vllm-inference",
  "plugins": [
    {
      "type": "bridge", "bridge": "vllmpods0", "isGateway": true, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$NODE_RUN/cni-ipam",
        "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$NODE_STATE/containerd.toml" <<EOF
version = 2
root = "$NODE_CONTAINERD_ROOT"
state = "$NODE_CONTAINERD_STATE"
[grpc]
  address = "$NODE_CONTAINERD_SOCK"
[ttrpc]
  address = "$NODE_CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The streaming server (exec, logs, port-forward) on the node namespace's loopback: only its kubelet.
  stream_server_address = "127.0.0.1"
  # Pod network namespaces under our state rather than /run/netns, which other runtimes share.
  netns_mounts_under_state_dir = true
  # Without CAP_SYS_RESOURCE (as in this VM) a negative oom_score_adj kills runc's init: clamp it instead.
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_CONTAINERD_ROOT/opt"
EOF
  start_proc "$1.containerd" nsenter --net="$NODE_NETNS" --mount="$NODE_MNTNS" -- \
    containerd --config "$NODE_STATE/containerd.toml"
  wait_for "$1: containerd socket" 30 ctr --address "$NODE_CONTAINERD_SOCK" version
  bash "$HERE/import-images.sh" "$1"
}

# CAP_SYS_RESOURCE is capability bit 24 of the effective set.
has_cap_sys_resource() {
  local eff; eff=$(awk '/^CapEff/ {print $2}' /proc/self/status)
  (( (16#$eff >> 24) & 1 ))
}

# node_labels NAME: the labels GKE puts on a node of a GPU node pool (spot or not), and the local cluster's.
node_labels() {
  local pool="gpu-$NODE_CAPACITY" labels
  labels=(
    "cloud.google.com/gke-nodepool=$pool"
    "cloud.google.com/gke-accelerator=nvidia-$(tr '[:upper:]' '[:lower:]' <<<"$REAL_NODE_GPU_TYPE")"
    "topology.kubernetes.io/zone=$NODE_ZONE"
    "topology.kubernetes.io/region=local"
    "nvidia.com/gpu.present=true"
    "nvidia.com/gpu.product=NVIDIA-$REAL_NODE_GPU_TYPE"
    "vllm-inference.local/node=real"
    "vllm-inference.local/pool=$pool"
  )
  if [[ $NODE_CAPACITY == spot ]]; then
    labels+=("cloud.google.com/gke-spot=true" "cloud.google.com/gke-provisioning=spot")
  fi
  (IFS=,; echo "${labels[*]}")
}

node_bus() { printf 'unix:path=%s\n' "$NODE_RUN/dbus/system_bus_socket"; }

# node_logind NAME: the node's system bus (dbus-daemon) and logind on it, before its kubelet.
node_logind() {
  node_env "$1"
  mkdir -p "$NODE_RUN/dbus"
  cat >"$NODE_STATE/dbus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>$(node_bus)</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
  start_proc "$1.dbus" nsenter --net="$NODE_NETNS" --mount="$NODE_MNTNS" -- \
    dbus-daemon --config-file="$NODE_STATE/dbus.conf" --nofork --nopidfile --nosyslog
  wait_for "$1: system bus" 30 test -S "$NODE_RUN/dbus/system_bus_socket"
  start_proc "$1.logind" nsenter --net="$NODE_NETNS" --mount="$NODE_MNTNS" -- \
    /usr/bin/python3 "$ROOT/hack/cluster/logind.py" --bus "$(node_bus)" --inhibit-delay-max "$SHUTDOWN_GRACE_S"
  wait_for "$1: logind on its bus" 30 grep -q "serving org.freedesktop.login1" "$LOGS/$1.logind.log"
}

node_kubelet() {
  node_env "$1"
  # Pod logs of an earlier cluster: the kubelet only collects those of pods it knows.
  pid_alive "$1.kubelet" || rm -rf "$NODE_POD_LOGS"
  mkdir -p "$NODE_POD_LOGS"
  local spot_taint=""
  if [[ $NODE_CAPACITY == spot ]]; then
    spot_taint='- key: cloud.google.com/gke-spot
  value: "true"
  effect: NoSchedule'
  fi
  cat >"$NODE_STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$NODE_CONTAINERD_SOCK
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
podLogsDir: $NODE_POD_LOGS
registerWithTaints:
- key: gpu
  value: "true"
  effect: NoSchedule
$spot_taint
# Hand-imported images are never pulled again: keep image GC from removing them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: ${KUBELET_EVICTION_FREE_MIB}Mi
  imagefs.available: ${KUBELET_EVICTION_FREE_MIB}Mi
  nodefs.inodesFree: 2%
maxPods: 40
serializeImagePulls: false
# Mounted Secrets and ConfigMaps follow their objects within ~10 s instead of ~60-90 s: prometheus-operator's
# config reaches Prometheus through a Secret volume, so a new ServiceMonitor is scraped that much sooner.
syncFrequency: 10s
# Graceful node shutdown as on GKE: ordinary pods get the first 15 s of the 30 s notice (logind.py).
shutdownGracePeriod: ${SHUTDOWN_GRACE_S}s
shutdownGracePeriodCriticalPods: ${SHUTDOWN_GRACE_CRITICAL_S}s
EOF
  # --root-dir is the node's own /var/lib/kubelet (a per-node directory in its mount namespace).
  start_proc "$1.kubelet" env DBUS_SYSTEM_BUS_ADDRESS="$(node_bus)" \
    nsenter --net="$NODE_NETNS" --mount="$NODE_MNTNS" -- \
    "$K8S_BIN/kubelet" --config "$NODE_STATE/kubelet.yaml" --kubeconfig "$KUBECONFIG_FILE" \
    --root-dir /var/lib/kubelet --hostname-override "$1" --node-ip "$NODE_IP" --node-labels "$(node_labels)" \
    --vmodule 'nodeshutdown_manager*=1' # the grace period the shutdown manager gives each pod
}

node_kube_proxy() {
  node_env "$1"
  start_proc "$1.kube-proxy" nsenter --net="$NODE_NETNS" --mount="$NODE_MNTNS" -- \
    "$K8S_BIN/kube-proxy" --kubeconfig "$KUBECONFIG_FILE" \
    --hostname-override "$1" --bind-address "$NODE_IP" --proxy-mode iptables \
    --cluster-cidr "$CLUSTER_POD_CIDR" --metrics-bind-address 127.0.0.1:10249 \
    --healthz-bind-address 127.0.0.1:10256 --conntrack-max-per-core 0
}

node_device_plugin() {
  node_env "$1"
  start_proc "$1.gpu-device-plugin" nsenter --net="$NODE_NETNS" --mount="$NODE_MNTNS" -- \
    "$ROOT/.venv/bin/python" -m gpu_device_plugin --count "$REAL_NODE_GPUS" --gpu-type "$REAL_NODE_GPU_TYPE" \
    --kubelet-dir "$DEVICE_PLUGIN_DIR" --node-name "$1"
}

gpus_advertised() {
  [[ $(kctl get node "$1" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}') == "$REAL_NODE_GPUS" ]]
}

# node_up NAME: start (or complete) real node NAME and wait until it is Ready with its GPUs.
node_up() {
  node_namespaces "$1"
  node_containerd "$1"
  node_logind "$1"
  node_kubelet "$1"
  node_kube_proxy "$1"
  wait_for "node $1 Ready" 120 kctl wait --for=condition=Ready "node/$1" --timeout=1s
  # Once the kubelet runs: it empties its device-plugin directory as it starts.
  node_device_plugin "$1"
  wait_for "$1: kube-proxy healthz" 60 nsenter --net="$NODE_NETNS" curl -fsS http://127.0.0.1:10256/healthz
  wait_for "$1: $REAL_NODE_GPUS x nvidia.com/gpu allocatable" 60 gpus_advertised "$1"
}

ctr_node() { ctr --address "$NODE_CONTAINERD_SOCK" -n k8s.io "$@"; }

# The node's containers: killed through its containerd while it runs.
node_stop_containers() {
  pid_alive "$1.containerd" || return 0
  local id
  for id in $(ctr_node tasks ls -q 2>/dev/null); do
    ctr_node tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr_node tasks ls -q 2>/dev/null); do
    ctr_node tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr_node containers ls -q 2>/dev/null); do
    ctr_node containers delete "$id" >/dev/null 2>&1 || true
  done
}

# containerd's shims outlive it by design; the node's are the ones started with its socket address. Anything
# still in the node's cgroups (a container process whose shim is gone) is the node's too.
node_kill_leftovers() {
  local p cmdline
  for p in /proc/[0-9]*; do
    cmdline=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    if [[ $cmdline == *"-address $NODE_CONTAINERD_SOCK "* ]]; then
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
  while read -r p; do
    kill -KILL "$p" 2>/dev/null || true
  done < <(find /sys/fs/cgroup/pids/"$NODE_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null)
}

node_remove_cgroups() {
  local h
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [[ -d $h/$NODE_CGROUP ]] || continue
    find "$h/$NODE_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# node_poweroff NAME: a cloud's power-off notice, as systemd-logind passes it on: PowerOff on the node's bus
# makes logind announce PrepareForShutdown to the kubelet, which terminates its pods (graceful node shutdown)
# and releases its lock; logind then lets the shutdown proceed (or does after $SHUTDOWN_GRACE_S s), and
# the node goes down.
node_poweroff() {
  node_env "$1"
  pid_alive "$1.logind" || die "$1: no logind running (is the node up?)"
  local pid start=$SECONDS
  pid=$(cat "$PIDS/$1.logind.pid")
  dbus-send --bus="$(node_bus)" --print-reply --dest=org.freedesktop.login1 /org/freedesktop/login1 \
    org.freedesktop.login1.Manager.PowerOff boolean:false >/dev/null
  log "$1: power-off notice sent; the kubelet shuts its pods down"
  while kill -0 "$pid" 2>/dev/null && ((SECONDS - start <= SHUTDOWN_GRACE_S + 5)); do sleep 0.2; done
  log "$1: $(grep -o 'shutdown proceeding.*' "$LOGS/$1.logind.log" | tail -1 || echo 'logind gone') after $((SECONDS - start))s"
  node_down "$1"
}

# node_down NAME: the node powers off: every process, container, mount, namespace, veth, route and cgroup
# of it is gone; its kubelet state too (a node that comes back is a fresh machine). The image store stays.
node_down() {
  node_env "$1"
  local c
  for c in "${NODE_COMPONENTS[@]:0:5}"; do stop_proc "$1.$c" 10; done
  node_stop_containers "$1"
  stop_proc "$1.containerd" 10
  node_kill_leftovers
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -z $(find /sys/fs/cgroup/pids/"$NODE_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null) ]] && break
    sleep 0.1
  done
  node_remove_cgroups
  # The namespaces die with their last process and their files' bind mounts.
  local m
  for m in "$NODE_MNTNS" "$NODE_NETNS"; do
    if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m"; fi
  done
  # The veth goes with the network namespace, asynchronously: deleting it may race the kernel doing so
  # (a failed delete is an error only when the veth is still there).
  if ! ip link delete "$NODE_VETH" 2>/dev/null && ip link show "$NODE_VETH" >/dev/null 2>&1; then
    die "$1: cannot delete $NODE_VETH"
  fi
  ip route del "$NODE_POD_CIDR" 2>/dev/null || true
  rm -rf "$NODE_RUN" "${NODES_VAR:?}/$1"
  log "$1: down (processes, containers, namespaces, veth, route, cgroups, kubelet state)"
}

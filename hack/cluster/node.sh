#!/usr/bin/env bash
# One real node of the running local cluster (nodes.sh), for the scenarios that take a node away and bring
# it back (a spot reclaim powers the node off; a new spot VM takes its place) and for running a command where
# ClusterIP routing works (the node's network namespace, its kube-proxy's rules):
#   node.sh list                 the real nodes
#   node.sh poweroff NODE        the power-off notice a cloud sends a VM it reclaims: the node's logind asks
#                                its kubelet to shut down (graceful node shutdown), waits for it (at most
#                                the kubelet's shutdownGracePeriod), then the node goes down
#   node.sh down NODE            power the node off at once: its processes, containers, namespaces, veth,
#                                cgroups and kubelet state go (its Node object stays, as after a VM stops)
#   node.sh up NODE              start it afresh (a new machine under the same name) and wait until Ready
#   node.sh exec NODE CMD...     run CMD in the node's network namespace (with the host's files)
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/env.sh"
source "$HERE/proc.sh"
source "$HERE/ledger.sh"
source "$HERE/nodes.sh"

usage() { die "usage: node.sh list | poweroff NODE | down NODE | up NODE | exec NODE CMD..."; }
(($# >= 1)) || usage
[[ $(id -u) -eq 0 ]] || die "node.sh needs root (namespaces, processes of the node)"
case $1 in
  list) real_node_names ;;
  poweroff)
    (($# == 2)) || usage
    node_poweroff "$2"
    ;;
  down)
    (($# == 2)) || usage
    node_down "$2"
    ;;
  up)
    (($# == 2)) || usage
    if ! { [[ -f $KUBECONFIG_FILE ]] && kctl get --raw /readyz >/dev/null 2>&1; }; then
      die "the local cluster is not running"
    fi
    node_up "$2"
    ;;
  exec)
    (($# >= 3)) || usage
    name=$2
    shift 2
    in_node_net "$name" "$@"
    ;;
  *) usage ;;
esac

# What cluster-up creates on the host under names it shares with other software, recorded as it creates it,
# so cluster-down removes exactly that (docs/cluster.md, "What cluster-down removes"). Sourced after env.sh.
#   $LEDGER/boot_id              the boot the records belong to: a reboot resets netfilter and sysctls
#   $LEDGER/netfilter/*.before   the host's iptables/ip6tables tables before the first cluster component ran
#   $LEDGER/created              one line per object: "sysctl KEY ORIGINAL OURS", "dir PATH"
# Objects named for this project alone (bridge $BRIDGE, veths vllmveth*, chains VLLM-INFERENCE-*, cgroups
# /$CGROUP_PARENT, $RUN_DIR, $VAR_DIR) need no record: they are ours whenever they exist.
# shellcheck shell=bash

NETFILTER="$ROOT/hack/cluster/netfilter.py"

# ledger_open: start recording (cluster-up); records of an earlier boot describe a host that is gone.
ledger_open() {
  local boot; boot=$(cat /proc/sys/kernel/random/boot_id)
  if [[ -f $LEDGER/boot_id && $(cat "$LEDGER/boot_id") != "$boot" ]]; then
    log "ledger: records of an earlier boot dropped"
    rm -rf "$LEDGER"
  fi
  mkdir -p "$LEDGER"
  printf '%s\n' "$boot" >"$LEDGER/boot_id"
  touch "$LEDGER/created"
}

# ledger_has PREFIX: a record starting with PREFIX exists.
ledger_has() {
  [[ -f $LEDGER/created ]] && awk -v p="$1" 'index($0, p) == 1 {found = 1} END {exit !found}' "$LEDGER/created"
}

# ledger_add RECORD...: append a record once.
ledger_add() { grep -qxF -- "$*" "$LEDGER/created" 2>/dev/null || printf '%s\n' "$*" >>"$LEDGER/created"; }

# ledger_entries KIND: the records of one kind, without the kind.
ledger_entries() { [[ -f $LEDGER/created ]] && awk -v k="$1" '$1 == k {sub(/^[^ ]+ /, ""); print}' "$LEDGER/created"; }

# netfilter_snapshot: the host's tables before the first component writes a rule (kept if already taken).
netfilter_snapshot() { python3 "$NETFILTER" snapshot "$LEDGER/netfilter"; }

# set_sysctl KEY VALUE: set a kernel parameter, recording the host's value the first time.
set_sysctl() {
  local key=$1 value=$2 orig
  orig=$(sysctl -n "$key" 2>/dev/null) || { log "sysctl $key: not on this kernel, skipped"; return 0; }
  ledger_has "sysctl $key " || ledger_add "sysctl $key $orig $value"
  sysctl -qw "$key=$value"
}

# record_new_dir PATH: the outermost missing directory of PATH is the cluster's (a mount point of the nodes'
# private directories such as /var/lib/kubelet: on a host with another kubelet it exists and is left alone).
record_new_dir() {
  local path=$1 outer=""
  while [[ ! -e $path ]]; do
    outer=$path
    path=$(dirname "$path")
  done
  if [[ -n $outer ]]; then ledger_add "dir $outer"; fi
}

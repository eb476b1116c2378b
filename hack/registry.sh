#!/usr/bin/env bash
# A local OCI registry for charts: Debian's docker-registry (the CNCF distribution registry), plain HTTP on
# 127.0.0.1 only, its storage and PID under $REGISTRY_DIR (default build/registry). What the publish tests
# and the guide's local walk-through push to and install from.
#   registry.sh up [PORT]   start it (default port 5000) and wait until /v2/ answers; prints its address
#   registry.sh down        stop the one started in $REGISTRY_DIR, by its PID, and remove its data
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REGISTRY_DIR="${REGISTRY_DIR:-$ROOT/build/registry}"
BINARY=/usr/bin/docker-registry

log() { printf '[registry] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

up() {
  local port=${1:-5000}
  [[ $port =~ ^[0-9]+$ ]] || die "port '$port' is not a number"
  if [[ -f $REGISTRY_DIR/pid ]] && kill -0 "$(cat "$REGISTRY_DIR/pid")" 2>/dev/null; then
    die "a registry already runs from $REGISTRY_DIR (pid $(cat "$REGISTRY_DIR/pid")): registry.sh down first"
  fi
  [[ -x $BINARY ]] || bash "$ROOT/hack/install-packages.sh" publish
  mkdir -p "$REGISTRY_DIR/data"
  cat >"$REGISTRY_DIR/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
  # setsid: the registry outlives this script and is stopped by `down`, by PID.
  setsid "$BINARY" serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/registry.log" 2>&1 </dev/null &
  echo $! >"$REGISTRY_DIR/pid"

  for _ in $(seq 50); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$port/v2/" 2>/dev/null; then
      log "up on 127.0.0.1:$port (pid $(cat "$REGISTRY_DIR/pid"), data $REGISTRY_DIR/data)"
      echo "127.0.0.1:$port"
      return
    fi
    kill -0 "$(cat "$REGISTRY_DIR/pid")" 2>/dev/null || break
    sleep 0.2
  done
  cat "$REGISTRY_DIR/registry.log" >&2
  down
  die "the registry did not answer on 127.0.0.1:$port (log above)"
}

down() {
  [[ -f $REGISTRY_DIR/pid ]] || { log "no registry started from $REGISTRY_DIR"; return; }
  local pid
  pid=$(cat "$REGISTRY_DIR/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2>/dev/null || kill -9 "$pid"
  fi
  rm -rf "$REGISTRY_DIR"
  log "stopped (pid $pid)"
}

case "${1:-}" in
  up) up "${2:-5000}" ;;
  down) down ;;
  *) die "usage: registry.sh up [PORT] | down" ;;
esac

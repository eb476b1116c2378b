# Process helpers of the local cluster: start daemons detached with their PID recorded, stop them by PID,
# wait for conditions with a bound. Sourced after env.sh.
# shellcheck shell=bash

# start_proc NAME CMD...: start CMD in its own session, log to $LOGS/NAME.log, PID in $PIDS/NAME.pid.
# A second call while it runs does nothing.
start_proc() {
  local name=$1; shift
  mkdir -p "$LOGS" "$PIDS"
  if pid_alive "$name"; then
    log "$name: already running (pid $(cat "$PIDS/$name.pid"))"
    return
  fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
  log "$name: started (pid $!, log $LOGS/$name.log)"
}

# stop_proc NAME [GRACE_S]: SIGTERM the recorded PID, SIGKILL after GRACE_S seconds; forget the PID.
stop_proc() {
  local name=$1 grace=${2:-10} f="$PIDS/$1.pid" pid i
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 5; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name: still running after ${grace}s, SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name: stopped (pid $pid)"
  fi
  rm -f "$f"
}

# wait_for DESCRIPTION TIMEOUT_S CMD...: poll CMD every second until it succeeds; fail naming DESCRIPTION.
wait_for() {
  local what=$1 timeout=$2 start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= timeout)); then
      die "timed out after ${timeout}s waiting for $what"
    fi
    sleep 1
  done
  log "$what: ok ($((SECONDS - start))s)"
}

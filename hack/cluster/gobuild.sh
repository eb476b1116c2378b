# Helpers of the Go module builds (build-binaries.sh, build-addons.sh), sourced, not executable on its own.
# shellcheck shell=bash

# timed OUTFILE CMD...: run CMD under GNU time, append its wall time and peak RSS to OUTFILE.
timed() {
  local out=$1; shift
  local tfile; tfile=$(mktemp)
  if ! /usr/bin/time -v -o "$tfile" "$@"; then
    cat "$tfile" >&2; rm -f "$tfile"; return 1
  fi
  {
    printf '%s %s\n' "$(date -u +%FT%TZ)" "$*"
    grep -E 'Elapsed \(wall clock\)|Maximum resident set size|User time|System time' "$tfile"
  } >>"$out"
  rm -f "$tfile"
}

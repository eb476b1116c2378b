#!/usr/bin/env bash
# The scenarios of the e2e tier in two groups: those that share the cluster side by side (pytest-xdist,
# E2E_WORKERS of them, 2 by default: each typically holds a GPU of each real node, a surge one more, and
# the real nodes have 4), then those marked `serial` (they drain, cordon or reclaim a node, or need a
# node's every GPU), one at a time. Both groups always run; the exit status is the first failure's. A group
# with nothing selected (exit 5, e.g. E2E_TESTS naming one file) is not a failure.
# Usage: e2e-tests.sh PYTEST [PYTEST_ARGS...] -- TESTS...   (run by `make e2e-cluster` inside e2e.sh)
set -uo pipefail

pytest_cmd=()
while (($# > 0)) && [[ $1 != -- ]]; do pytest_cmd+=("$1"); shift; done
(($# > 0)) || { echo "usage: e2e-tests.sh PYTEST [ARGS...] -- TESTS..." >&2; exit 2; }
shift
workers="${E2E_WORKERS:-2}"

run_group() {
  local status=0
  "${pytest_cmd[@]}" "$@" || status=$?
  ((status == 5)) && status=0
  return "$status"
}

status=0
echo "[e2e] scenarios side by side ($workers workers)"
run_group -n "$workers" --dist load -m "e2e and not serial" "$@" || status=$?
echo "[e2e] scenarios that change nodes, one at a time"
run_group -p no:xdist -m "e2e and serial" "$@" || { s=$?; ((status == 0)) && status=$s; }
exit "$status"

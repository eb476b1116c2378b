#!/usr/bin/env bash
# Runs shellcheck over every shell script of the checkout: tracked and new (not ignored) files named *.sh or
# *.bash, with a sh/bash shebang, or marked `# shellcheck shell=...` (sourced files such as env.sh).
# Sourced files are followed (.shellcheckrc: source-path=SCRIPTDIR). Prints the scripts it checked.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SHELLCHECK="${SHELLCHECK:-.tools/bin/shellcheck}"
[[ -x $SHELLCHECK ]] || { echo "[shellcheck] error: $SHELLCHECK missing: run make tools" >&2; exit 1; }

is_script() {
  case $1 in *.sh | *.bash) return 0 ;; esac
  local first
  IFS= read -r first <"$1" 2>/dev/null || return 1
  [[ $first =~ ^#!.*[/\ ](ba|da)?sh([[:space:]]|$) ]] && return 0
  grep -q '^# shellcheck shell=' "$1"
}

scripts=()
while IFS= read -r -d '' f; do
  [[ -f $f ]] && is_script "$f" && scripts+=("$f")
done < <(git ls-files -z --cached --others --exclude-standard)
((${#scripts[@]} > 0)) || { echo "[shellcheck] error: no scripts found" >&2; exit 1; }
"$SHELLCHECK" --version | awk '$1 == "version:" {printf "[shellcheck] shellcheck %s over", $2}' >&2
printf ' %s' "${scripts[@]}" >&2
echo >&2
"$SHELLCHECK" "${scripts[@]}"
echo "shellcheck: ok (${#scripts[@]} scripts)"

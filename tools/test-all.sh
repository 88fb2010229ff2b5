#!/usr/bin/env bash
# Runs every check of the project in one go and ends with one tally line,
# "checks: N passed, N failed". Each stage is a script in tools/checks/,
# run in name order with .tools/bin first on PATH. A stage that counts its
# own tests writes "PASSED FAILED" to "$RF_COUNTS_FILE"; otherwise the
# stage counts as one check, passed when it exits 0. All stages run even
# after a failure, so one run shows every problem.
set -Euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/.tools/bin:$root/node_modules/.bin:$PATH"
export RF_REPORTS_DIR="$root/reports"
mkdir -p "$RF_REPORTS_DIR"
cd "$root" || exit 2

only="${1:-}"
total_passed=0
total_failed=0
failed_stages=()
for stage in tools/checks/*.sh; do
  name="$(basename "$stage" .sh)"
  [[ -n "$only" && "$name" != *"$only"* ]] && continue
  counts_file="$(mktemp)"
  echo "==> $name"
  started=$SECONDS
  if RF_COUNTS_FILE="$counts_file" bash "$stage"; then status=0; else status=$?; fi
  if [[ -s "$counts_file" ]]; then
    read -r passed failed <"$counts_file"
  elif ((status == 0)); then
    passed=1 failed=0
  else
    passed=0 failed=1
  fi
  # A stage that counted only passes but exited non-zero still failed.
  if ((status != 0 && failed == 0)); then failed=1; fi
  rm -f "$counts_file"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  ((failed > 0)) && failed_stages+=("$name")
  echo "<== $name: $passed passed, $failed failed ($((SECONDS - started)) s)"
done

if ((${#failed_stages[@]})); then
  echo "failed stages: ${failed_stages[*]}"
fi
echo "checks: $total_passed passed, $total_failed failed"
((total_failed == 0))

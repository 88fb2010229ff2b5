#!/usr/bin/env bash
# The bats scenarios of test/iam/ (the job-IMDS firewall rules, built for real
# in a network namespace). Counts tests from the TAP output, as 40-bats does.
set -Euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
bats_bin="$(command -v bats || true)"
[[ -n "$bats_bin" ]] || bats_bin="$root/node_modules/bats/bin/bats"
tap="$(mktemp)"
status=0
"$bats_bin" --tap test/iam | tee "$tap" || status=$?
passed=$(grep -cE '^ok ' "$tap" || true)
failed=$(grep -cE '^not ok ' "$tap" || true)
skipped=$(grep -cE '^ok .* # skip' "$tap" || true)
rm -f "$tap"
echo "$passed $failed" >"${RF_COUNTS_FILE:-/dev/null}"
echo "job-imds bats: $passed passed ($skipped skipped), $failed failed"
((status == 0 && failed == 0 && passed > 0))

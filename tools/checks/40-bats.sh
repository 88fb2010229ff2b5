#!/usr/bin/env bash
# The bats scenarios of the instance scripts (test/bats/*.bats) against the
# IMDS double, AEMM and recording stubs. Counts tests from the TAP output
# (a skipped test counts as passed and shows its reason) and writes a JUnit
# report when this bats supports it. Other stages run other bats folders
# through this one: 40-bats.sh FOLDER...
set -Euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
bats_bin="$(command -v bats || true)"
[[ -n "$bats_bin" ]] || bats_bin="$root/node_modules/bats/bin/bats"
tap="$(mktemp)"
status=0
folders=("${@:-test/bats}")
"$bats_bin" --tap "${folders[@]}" | tee "$tap" || status=$?
passed=$(grep -cE '^ok ' "$tap" || true)
failed=$(grep -cE '^not ok ' "$tap" || true)
skipped=$(grep -cE '^ok .* # skip' "$tap" || true)
planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -1)
rm -f "$tap"
# A crash that cut the run short leaves planned tests without a result.
if [[ -n "$planned" ]] && ((passed + failed < planned)); then failed=$((planned - passed)); fi
echo "$passed $failed" >"${RF_COUNTS_FILE:-/dev/null}"
echo "bats ${folders[*]}: $passed passed ($skipped skipped), $failed failed"
((status == 0 && failed == 0 && passed > 0))

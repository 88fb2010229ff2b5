#!/usr/bin/env bash
# Unit and integration tests (vitest). Writes a JUnit report and counts tests.
set -Eeuo pipefail
json="$(mktemp)"
status=0
vitest run --reporter=default --reporter=junit --outputFile.junit="$RF_REPORTS_DIR/junit-vitest.xml" \
  --reporter=json --outputFile.json="$json" "$@" || status=$?
if [[ -s "$json" ]]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0));
  ' "$json" >"$RF_COUNTS_FILE"
fi
rm -f "$json"
exit "$status"

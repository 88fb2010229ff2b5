#!/usr/bin/env bash
# The drain rig (test/rig/*.rig.ts): every drain path of the Linux instance
# scripts with the real gitlab-runner (tools/setup.d/60-gitlab-runner.sh) under
# a real systemd user manager, against doubles of GitLab, IMDS and Auto Scaling.
# Needs root (a private mount namespace). Counts tests; prints `jobs lost X of N`,
# the drain timings and its wall time. A missing prerequisite fails in CI
# (CI=true) and skips, with the reason, elsewhere.
set -Euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
started=$SECONDS
json="$(mktemp)"
status=0
vitest run --config test/rig/vitest.config.ts --reporter=default --reporter=json --outputFile.json="$json" || status=$?
if [[ -s "$json" ]]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0));
  ' "$json" >"${RF_COUNTS_FILE:-/dev/null}"
fi
rm -f "$json"
echo "drain rig: wall time $((SECONDS - started)) s"
exit "$status"

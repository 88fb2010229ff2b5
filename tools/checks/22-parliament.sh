#!/usr/bin/env bash
# parliament (with its community auditors) over every IAM policy both
# templates ship, rendered with example values for each preset in
# cfn/presets/ (test/iam/render-policies.ts). A finding fails the stage unless
# tools/parliament-suppressions.yaml suppresses it with a reason; a
# suppression that matches nothing fails it too. Counts one check per policy
# file, plus one for the suppressions.
set -Euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
if ! tsx test/iam/render-policies.ts "$out/policies"; then
  echo "parliament: could not render the policies" >&2
  exit 1
fi
# One JSON finding per line; parliament exits 1 when it has findings.
for policy in "$out"/policies/*.json; do
  parliament --directory "$out/policies" --include_policy_extension "$(basename "$policy")" \
    --include-community-auditors --json </dev/null >"$policy.findings" 2>&1 || true
done
node --input-type=module - "$out/policies" tools/parliament-suppressions.yaml "${RF_COUNTS_FILE:-/dev/null}" <<'JS'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
const [dir, suppressionsFile, countsFile] = process.argv.slice(2);
const suppressions = load(readFileSync(suppressionsFile, 'utf8'));
const used = new Set();
let passed = 0;
let failed = 0;
let clean = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const lines = readFileSync(join(dir, `${file}.findings`), 'utf8').split('\n').filter(Boolean);
  const open = [];
  for (const line of lines) {
    let finding;
    try {
      finding = JSON.parse(line);
    } catch {
      open.push(`parliament said: ${line}`);
      continue;
    }
    const match = suppressions.findIndex((s) => s.issue === finding.issue && new RegExp(s.files).test(file));
    if (match >= 0) used.add(match);
    else open.push(`${finding.severity} ${finding.issue}: ${finding.title} ${JSON.stringify(finding.detail ?? '')}`);
  }
  if (open.length === 0) {
    passed += 1;
    clean += 1;
  } else {
    failed += 1;
    console.error(`parliament: ${file}:\n  ${open.join('\n  ')}`);
  }
}
const stale = suppressions.filter((_, index) => !used.has(index));
for (const s of stale) console.error(`parliament: suppression of ${s.issue} for ${s.files} matches nothing: remove it`);
if (stale.length > 0) failed += 1;
else passed += 1;
console.log(`parliament: ${clean} policies clean or suppressed (${used.size} suppressions used), ${failed} failing`);
writeFileSync(countsFile, `${passed} ${failed}\n`);
process.exit(failed === 0 ? 0 : 1);
JS

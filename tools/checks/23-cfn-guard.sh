#!/usr/bin/env bash
# cfn-guard with AWS Control Tower's proactive rules for EC2, EC2 Auto
# Scaling, IAM, S3 and CloudWatch (installed by tools/setup.d/cfn-guard.sh)
# over every template in cfn/. A failing rule fails the stage unless
# tools/cfn-guard-suppressions.yaml suppresses it for that template with a
# reason; a suppression that matches nothing fails it too. Counts one check
# per template, plus one for the suppressions.
set -Euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
rules="$root/.tools/cfn-guard/rules"
if ! command -v cfn-guard >/dev/null 2>&1 || [[ ! -d "$rules" ]]; then
  echo "cfn-guard: not installed (tools/setup.d/cfn-guard.sh)" >&2
  exit 1
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for template in cfn/*.yaml; do
  # Exit 19 = some rule failed; the summary lines name them.
  cfn-guard validate --data "$template" \
    --rules "$rules/ec2" --rules "$rules/ec2autoscaling" --rules "$rules/identityandaccessmanagement" \
    --rules "$rules/s3" --rules "$rules/cloudwatch" \
    --show-summary fail --output-format single-line-summary >"$out/$(basename "$template").out" 2>&1
  status=$?
  if ((status != 0 && status != 19)); then
    echo "cfn-guard: could not check $template (exit $status):" >&2
    cat "$out/$(basename "$template").out" >&2
    exit 1
  fi
done
node --input-type=module - "$out" tools/cfn-guard-suppressions.yaml "${RF_COUNTS_FILE:-/dev/null}" <<'JS'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
const [dir, suppressionsFile, countsFile] = process.argv.slice(2);
const suppressions = load(readFileSync(suppressionsFile, 'utf8'));
const used = new Set();
let passed = 0;
let failed = 0;
for (const file of readdirSync(dir).sort()) {
  const template = file.replace(/\.out$/, '');
  const failing = [...readFileSync(join(dir, file), 'utf8').matchAll(/^\S+\.guard\/(\S+)\s+FAIL$/gm)].map((m) => m[1]);
  const open = [];
  for (const rule of new Set(failing)) {
    const match = suppressions.findIndex((s) => s.rule === rule && s.template === template);
    if (match >= 0) used.add(match);
    else open.push(rule);
  }
  if (open.length === 0) passed += 1;
  else {
    failed += 1;
    console.error(`cfn-guard: ${template} fails ${open.join(', ')} (run cfn-guard validate on it for the details)`);
  }
}
const stale = suppressions.filter((_, index) => !used.has(index));
for (const s of stale) console.error(`cfn-guard: suppression of ${s.rule} for ${s.template} matches nothing: remove it`);
if (stale.length > 0) failed += 1;
else passed += 1;
console.log(`cfn-guard: ${readdirSync(dir).length} templates, ${used.size} suppressed rule failures, ${failed} failing checks`);
writeFileSync(countsFile, `${passed} ${failed}\n`);
process.exit(failed === 0 ? 0 : 1);
JS

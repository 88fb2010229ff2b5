#!/usr/bin/env bash
# cfn-lint on every template in cfn/, then on runner-fleet.yaml once per preset
# (preset values plus placeholder site values), so a preset that names an
# unknown parameter or a value outside AllowedValues fails here.
# cfn-lint's exit code is a bitmask (2 errors, 4 warnings, 8 info): errors and
# warnings fail the stage; informational findings are printed only.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

status=0
lint() {
  local rc=0
  cfn-lint "$@" || rc=$?
  if ((rc & 6)); then status=1; fi
}

lint cfn/*.yaml

# Site values every preset leaves to the user (see docs/fleet-stack.md).
site='{"VpcId": "vpc-0123456789abcdef0",
  "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
  "RunnerTokenParameterName": "/runner-fleet/example/token",
  "RunnerConfigBundleUrl": "https://example.com/runner-configs.tar.gz",
  "RunnerConfigBundleSha256": "0000000000000000000000000000000000000000000000000000000000000000"}'
params="$(mktemp --suffix=.json)"
trap 'rm -f "$params"' EXIT
for preset in cfn/presets/*.yaml; do
  # cfn-lint reads only the list form, and wants list-typed values as arrays.
  # SSM-typed parameters are left out: cfn-lint would compare the parameter
  # path with the AMI id pattern (test/cfn checks the preset's path instead).
  node -e '
    const fs = require("fs");
    const yaml = require("js-yaml");
    const [template, preset, site, out] = process.argv.slice(1);
    const types = Object.fromEntries(
      [...fs.readFileSync(template, "utf8").matchAll(/^  (\w+):\n    Type: (.+)$/gm)].map((m) => [m[1], m[2]]),
    );
    const values = { ...yaml.load(fs.readFileSync(preset, "utf8")), ...JSON.parse(site) };
    const list = Object.entries(values)
      .filter(([key]) => !String(types[key]).startsWith("AWS::SSM::"))
      .map(([key, value]) => ({
        ParameterKey: key,
        ParameterValue: /List/.test(types[key]) ? String(value).split(",") : String(value),
      }));
    fs.writeFileSync(out, JSON.stringify(list));
  ' cfn/runner-fleet.yaml "$preset" "$site" "$params"
  echo "cfn-lint runner-fleet.yaml with $preset"
  lint cfn/runner-fleet.yaml --parameter-files "$params"
done
exit "$status"

#!/usr/bin/env bash
# Installs cfn-guard and AWS Control Tower's proactive guard rules into
# $TOOLS_DIR for tools/checks/23-cfn-guard.sh, from the npm package
# @cdklabs/cdk-validator-cfnguard, which ships both (Linux x86_64/aarch64
# binaries). Only the binary and the rules are taken: `npm pack` fetches the
# tarball, so none of the package's dependencies (aws-cdk-lib, 160 MB) is
# installed. Safe to run again: an installed version is kept.
set -Eeuo pipefail

readonly PACKAGE=@cdklabs/cdk-validator-cfnguard@0.0.62
tools_dir="${TOOLS_DIR:?TOOLS_DIR is required}"
dest="$tools_dir/cfn-guard"
stamp="$dest/.version"

if [[ -x "$dest/cfn-guard" && -f "$stamp" && "$(cat "$stamp")" == "$PACKAGE" ]]; then
  exit 0
fi
case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *)
    echo "setup: no cfn-guard binary for $(uname -m); the cfn-guard stage will fail" >&2
    exit 0
    ;;
esac
echo "setup: installing cfn-guard and Control Tower rules from $PACKAGE"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" "package/bin/ubuntu/$arch/cfn-guard" package/rules/control-tower/cfn-guard
rm -rf "$dest"
mkdir -p "$dest"
install -m 0755 "$tmp/package/bin/ubuntu/$arch/cfn-guard" "$dest/cfn-guard"
cp -r "$tmp/package/rules/control-tower/cfn-guard" "$dest/rules"
ln -sf "$dest/cfn-guard" "$tools_dir/bin/cfn-guard"
printf '%s' "$PACKAGE" >"$stamp"

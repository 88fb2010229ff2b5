#!/usr/bin/env bash
# Installs AWS's IMDS emulator (amazon-ec2-metadata-mock) into $TOOLS_DIR/bin for
# the bats scenario that runs the lifecycle agent against it. Needs Go and the
# Go module proxy; without Go it says so and exits 0 (the scenario then skips
# with a visible message). Safe to run again: an installed binary is kept.
set -Eeuo pipefail

readonly AEMM_VERSION=v1.13.0
tools_dir="${TOOLS_DIR:?TOOLS_DIR is required}"
bin="$tools_dir/bin/ec2-metadata-mock"
stamp="$tools_dir/bin/.ec2-metadata-mock.version"

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$AEMM_VERSION" ]]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: go not found; skipping ec2-metadata-mock (the AEMM bats scenario will skip)" >&2
  exit 0
fi
echo "setup: installing ec2-metadata-mock $AEMM_VERSION"
mkdir -p "$tools_dir/bin"
GOBIN="$tools_dir/bin" go install "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@$AEMM_VERSION"
printf '%s' "$AEMM_VERSION" >"$stamp"

#!/usr/bin/env bats
# tools/bundle-runner-configs.sh builds the same bytes every time.

load helpers/common

setup() { OUT="$(mktemp -d)"; }
teardown() { rm -rf "$OUT"; }

@test "two builds give the same SHA-256, also after touching the sources' mtimes" {
  run "$REPO_ROOT/tools/bundle-runner-configs.sh" "$OUT/a"
  [ "$status" -eq 0 ]
  first="$output"
  [ "$(wc -l <<<"$first")" -eq 2 ]
  [[ "$first" =~ ^[0-9a-f]{64}\ \ runner-configs-linux.tar.gz ]]
  # A source file with a new mtime, as after a fresh checkout, must not change the bundle.
  cp -p "$LINUX_DIR/lib/common.sh" "$OUT/common.sh.bak"
  touch "$LINUX_DIR/lib/common.sh"
  run "$REPO_ROOT/tools/bundle-runner-configs.sh" "$OUT/b"
  touch -r "$OUT/common.sh.bak" "$LINUX_DIR/lib/common.sh"
  [ "$status" -eq 0 ]
  [ "$output" = "$first" ]
}

@test "the linux bundle holds the scripts at its root, executable, owned by 0" {
  "$REPO_ROOT/tools/bundle-runner-configs.sh" "$OUT" >/dev/null
  listing="$(tar -tvzf "$OUT/runner-configs-linux.tar.gz")"
  grep -qE '^-rwxr-xr-x root/root .* docker.sh$' <<<"$listing"
  grep -qE ' lib/lifecycle.sh$' <<<"$listing"
  grep -qE ' systemd/runner-fleet-lifecycle.service$' <<<"$listing"
  python3 -c 'import sys,zipfile; n=zipfile.ZipFile(sys.argv[1]).namelist(); assert "docker.ps1" in n and "lib/Imds.ps1" in n, n' "$OUT/runner-configs-windows.zip"
}

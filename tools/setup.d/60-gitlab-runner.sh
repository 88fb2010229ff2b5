#!/usr/bin/env bash
# Builds the real gitlab-runner from its source for the drain rig (test/rig/),
# at one pinned revision, and links it as $TOOLS_DIR/gitlab-runner/bin/gitlab-runner
# (not in $TOOLS_DIR/bin, which every check stage has on PATH: the bats
# scenarios must keep their own gitlab-runner stub).
#
# How (FACTS.md, "The real gitlab-runner can be built here"): the Go module
# proxy serves the runner's source but refuses a few of its dependencies. The
# build copies the module into a scratch directory, points those dependencies
# at the small stand-in modules in tools/gitlab-runner-build/stubs (go.mod
# `replace`), removes from main.go the executors and commands that need the
# refused fleeting modules (tools/gitlab-runner-build/main-go-removals.txt),
# and runs `go build` with CGO_ENABLED=0. The shell executor, `run`,
# `register`, `verify`, `unregister` and the API client are the runner's own.
#
# The binary is cached outside the checkout, in
# ${XDG_CACHE_HOME:-~/.cache}/runner-fleet/gitlab-runner/<revision>-<inputs hash>/,
# keyed by the revision and a hash of everything this script feeds the build,
# so a clean clone on the same machine reuses it; Go's module and build caches
# are kept as they are. Safe to run again: a cached binary is only re-linked.
set -Eeuo pipefail
trap 'echo "setup: gitlab-runner build failed at line $LINENO: $BASH_COMMAND" >&2' ERR

readonly RUNNER_MODULE=gitlab.com/gitlab-org/gitlab-runner
readonly RUNNER_REVISION=v1.11.1-0.20260903214710-fc1f1862bd91
readonly RUNNER_VERSION=19.4.0
readonly RUNNER_COMMIT=fc1f1862

root="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
tools_dir="${TOOLS_DIR:-$root/.tools}"
inputs="$root/tools/gitlab-runner-build"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/runner-fleet/gitlab-runner"

log() { printf 'setup: gitlab-runner: %s\n' "$*"; }
fail() {
  printf 'setup: gitlab-runner: %s\n' "$*" >&2
  exit 1
}

# The inputs hash covers this script, the removals and every stub source, so
# any change to how the binary is made gives a new cache entry (documentation
# files are left out: they do not change the binary).
inputs_hash() {
  (
    cd "$root"
    {
      sha256sum tools/setup.d/60-gitlab-runner.sh
      find tools/gitlab-runner-build -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -c1-16
  )
}

key="$RUNNER_REVISION-$(inputs_hash)"
binary="$cache_root/$key/gitlab-runner"
link_dir="$tools_dir/gitlab-runner/bin"
mkdir -p "$link_dir"

if [[ -x "$binary" ]]; then
  ln -sfn "$binary" "$link_dir/gitlab-runner"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  # The drain rig's check stage fails (in CI) or skips (locally) without it.
  echo "setup: gitlab-runner: go not found; the drain rig needs it to build the real runner" >&2
  exit 0
fi

started=$(date +%s)
log "building $RUNNER_MODULE@$RUNNER_REVISION (VERSION $RUNNER_VERSION) into $binary"
log "fetching the runner's module source from the Go module proxy"
module_dir="$(go mod download -json "$RUNNER_MODULE@$RUNNER_REVISION" |
  sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",*$/\1/p')"
[[ -n "$module_dir" && -f "$module_dir/main.go" ]] ||
  fail "go mod download $RUNNER_MODULE@$RUNNER_REVISION gave no module directory"

work="$(mktemp -d "${TMPDIR:-/tmp}/gitlab-runner-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "copying the source to $work (the module cache is read-only)"
cp -R "$module_dir/." "$work/src"
chmod -R u+w "$work/src"

log "removing from main.go the executors and commands that need the refused fleeting modules"
removed=0
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  count="$(awk -v want="$line" '{ sub(/^[ \t]+/, ""); sub(/[ \t]+$/, "") } $0 == want { n++ } END { print n + 0 }' "$work/src/main.go")"
  ((count == 1)) || fail "main.go has $count lines equal to '$line' (expected 1): the removals list does not fit this revision"
  awk -v want="$line" '{ t = $0; sub(/^[ \t]+/, "", t); sub(/[ \t]+$/, "", t) } t != want' "$work/src/main.go" >"$work/main.go"
  mv "$work/main.go" "$work/src/main.go"
  removed=$((removed + 1))
done <"$inputs/main-go-removals.txt"
log "removed $removed lines from main.go"

log "pointing the refused modules at the stand-ins in tools/gitlab-runner-build/stubs"
(
  cd "$work/src"
  go mod edit \
    -replace "gitlab.com/gitlab-org/step-runner=$inputs/stubs/step-runner" \
    -replace "gitlab.com/gitlab-org/moa=$inputs/stubs/moa" \
    -replace "gitlab.com/gitlab-org/labkit/v2=$inputs/stubs/labkit" \
    -replace "gitlab.com/ajwalker/phrasestream=$inputs/stubs/phrasestream" \
    -replace "gitlab.com/gitlab-org/gitlab-runner/helpers/runner_wrapper/api=$inputs/stubs/runner-wrapper-api"
)

log "compiling (CGO_ENABLED=0; a cold build takes about 5 minutes on 2 cores)"
ldflags="-X $RUNNER_MODULE/common.NAME=gitlab-runner -X $RUNNER_MODULE/common.VERSION=$RUNNER_VERSION"
ldflags+=" -X $RUNNER_MODULE/common.REVISION=$RUNNER_COMMIT -X $RUNNER_MODULE/common.BRANCH=main"
mkdir -p "$cache_root/$key"
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$work/gitlab-runner" .) ||
  fail "go build failed (see above); the stand-ins in tools/gitlab-runner-build/stubs may lack a name this revision uses"

version="$("$work/gitlab-runner" --version | awk '/^Version:/ {print $2}')"
[[ "$version" == "$RUNNER_VERSION" ]] || fail "the built binary reports version '$version', expected $RUNNER_VERSION"
mv -f "$work/gitlab-runner" "$binary"
ln -sfn "$binary" "$link_dir/gitlab-runner"
log "built gitlab-runner $version in $(($(date +%s) - started))s; linked as $link_dir/gitlab-runner"

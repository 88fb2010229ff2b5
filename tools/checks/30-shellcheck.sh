#!/usr/bin/env bash
# Runs ShellCheck (style level and up, sourced libraries followed) on every
# bash file of the repository (*.sh, *.bash, *.bats anywhere outside
# node_modules, .tools and .git: instance scripts, tests, doubles, tools) and
# .ci/run. Counts one check per file.
set -Euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
mapfile -t files < <(
  {
    find . \( -name node_modules -o -name .tools -o -name .git -o -name .mirror \) -prune -o \
      -type f \( -name '*.sh' -o -name '*.bash' -o -name '*.bats' \) -print | sed 's|^\./||'
    printf '%s\n' .ci/run
  } | sort -u
)
passed=0 failed=0
for f in "${files[@]}"; do
  if [[ ! -f "$f" ]]; then
    echo "shellcheck: $f is missing" >&2
    failed=$((failed + 1))
  elif shellcheck -x -S style "$f"; then
    passed=$((passed + 1))
  else
    echo "shellcheck: findings in $f" >&2
    failed=$((failed + 1))
  fi
done
echo "$passed $failed" >"${RF_COUNTS_FILE:-/dev/null}"
echo "shellcheck: $passed files clean, $failed with findings"
((failed == 0 && passed > 0))

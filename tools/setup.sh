#!/usr/bin/env bash
# Installs everything the demo and the tests need that npm does not: Debian
# packages (shellcheck, bats, rsync) and the Python tools listed in
# tools/python-tools.txt, each in its own venv under .tools/, linked into
# .tools/bin. Safe to run again: finished steps are skipped.
set -Eeuo pipefail
trap 'echo "setup: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="$root/.tools"
mkdir -p "$tools_dir/bin"

log() { printf 'setup: %s\n' "$*"; }

if [[ ! -d "$root/node_modules" ]]; then
  log "installing npm packages (npm ci)"
  (cd "$root" && npm ci --no-audit --no-fund)
fi

missing_debs=()
for pair in shellcheck:shellcheck bats:bats rsync:rsync git:git; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing_debs+=("${pair##*:}")
done
if ((${#missing_debs[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing ${missing_debs[*]}; install them with: sudo apt-get install ${missing_debs[*]}" >&2
    exit 2
  fi
  log "installing Debian packages: ${missing_debs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_debs[@]}" >/dev/null
fi

python="${PYTHON:-python3}"
while read -r name requirement commands; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  venv="$tools_dir/venv-$name"
  stamp="$venv/.installed"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$requirement" ]]; then
    log "installing $requirement"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
    printf '%s' "$requirement" >"$stamp"
  fi
  for command in ${commands//,/ }; do
    ln -sf "$venv/bin/$command" "$tools_dir/bin/$command"
  done
done <"$root/tools/python-tools.txt"

# Extra installers owned by one area each (Go tools, ...). Each is idempotent.
for extra in "$root"/tools/setup.d/*.sh; do
  [[ -e "$extra" ]] || continue
  TOOLS_DIR="$tools_dir" ROOT="$root" bash "$extra"
done

log "tools ready in $tools_dir/bin"

#!/usr/bin/env bash
# The drain rig (test/rig/) runs the real gitlab-runner under a real systemd
# user manager: it needs systemd (/lib/systemd/systemd, systemctl) and
# util-linux (unshare, nsenter). Installs the Debian packages when they are
# missing and this runs as root; otherwise says what to install (the rig's
# check stage then fails in CI and skips locally). Safe to run again.
set -Eeuo pipefail

missing=()
[[ -x /lib/systemd/systemd && -x /usr/bin/systemctl ]] || missing+=(systemd)
command -v unshare >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "setup: the drain rig needs ${missing[*]}; install with: sudo apt-get install ${missing[*]}" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: the drain rig needs ${missing[*]} and there is no apt-get to install them" >&2
  exit 0
fi
echo "setup: installing Debian packages for the drain rig: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

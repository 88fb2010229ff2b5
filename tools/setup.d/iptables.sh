#!/usr/bin/env bash
# Installs iptables and iproute2 (Debian packages) for test/iam/job-imds.bats,
# which builds the instance's job-IMDS firewall rules for real inside a
# private network namespace. Needs root (CI runs as root); without it, says so
# and exits 0 (those tests then skip with their reason). Safe to run again.
set -Eeuo pipefail

missing=()
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "setup: ${missing[*]} missing and not root; install with: sudo apt-get install ${missing[*]}" >&2
  exit 0
fi
echo "setup: installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null

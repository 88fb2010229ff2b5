#!/usr/bin/env bash
# Runs as root inside `unshare --mount --propagation private`: gives the rig's
# instance its own view of the few paths it changes, then becomes a real
# systemd user manager (FACTS.md, systemd). Nothing here is visible outside
# the namespace, so rigs running at the same time do not meet.
#   $1  the rig's host directory for the user units (RF_SYSTEMD_DIR)
#   $2  the scripts to install as /opt/runner-fleet (runner_configs/linux)
set -Eeuo pipefail
units_dir="$1"
scripts_dir="$2"
# systemd refuses to run a user instance unless /run/systemd/system exists
# ("the system has not been booted with systemd"); the private /run also keeps
# XDG_RUNTIME_DIR (the manager's bus and private socket) apart from the host.
mount -t tmpfs -o mode=0755 rig-run /run
mkdir -p /run/user/0 /run/systemd/system
chmod 0700 /run/user/0
# The instance's install dir, where the shipped lifecycle unit expects the agent.
mount -t tmpfs -o mode=0755 rig-opt /opt
mkdir -p /opt/runner-fleet
mount --bind "$scripts_dir" /opt/runner-fleet
mount -o remount,bind,ro /opt/runner-fleet
# User units live where a user manager looks for them.
mount --bind "$units_dir" /etc/systemd/user
export XDG_RUNTIME_DIR=/run/user/0
exec /lib/systemd/systemd --user

# shellcheck shell=bash
# Keeps CI job processes away from the instance metadata service (IMDS), so a
# job cannot take the instance role's credentials (the fleet's runner token,
# its lifecycle actions, scale-in protection, metrics, every cache object).
#
# Why a firewall rule: HttpPutResponseHopLimit 1 stops containers behind the
# docker bridge, but shell-executor jobs run on the host. The runner package's
# service runs gitlab-runner as root with `run --user gitlab-runner`, and the
# shell executor starts every job as that user (GitLab Runner docs, "Run
# GitLab Runner as a system or user service" and the shell executor page), so
# an OUTPUT rule matching the job user's uid refuses the job and everything
# it starts, while root - the runner itself (it signs the S3 cache URLs with
# the role), the lifecycle agent, the bootstrap and the CloudWatch and SSM
# agents - keeps IMDS. IPv6 IMDS (fd00:ec2::254) is blocked the same way.
#
# The rules live in their own chain, rebuilt by one idempotent function, and a
# oneshot unit applies them again at every boot before gitlab-runner starts.
# Requires lib/common.sh (and lib/packages.sh to install iptables). Also runs
# on its own: job-imds.sh apply USER.

readonly RF_JOB_IMDS_CHAIN="${RF_JOB_IMDS_CHAIN:-RF-JOB-IMDS}"
readonly RF_JOB_IMDS_UNIT="${RF_JOB_IMDS_UNIT:-runner-fleet-job-imds.service}"
readonly RF_IMDS_IPV4=169.254.169.254
readonly RF_IMDS_IPV6=fd00:ec2::254

# job_imds_apply USER: (re)builds the chain that rejects USER's packets to IMDS.
job_imds_apply() {
  local user="$1" tool address
  # iptables resolves the user name itself and fails on an unknown one.
  for tool in iptables ip6tables; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      [[ "$tool" == ip6tables ]] && continue
      die "$tool is not installed"
    fi
    address="$RF_IMDS_IPV4"
    [[ "$tool" == ip6tables ]] && address="$RF_IMDS_IPV6"
    "$tool" -w -N "$RF_JOB_IMDS_CHAIN" 2>/dev/null || "$tool" -w -F "$RF_JOB_IMDS_CHAIN"
    # REJECT, not DROP: a job that tries gets an immediate error, not a hang.
    "$tool" -w -A "$RF_JOB_IMDS_CHAIN" -d "$address" -m owner --uid-owner "$user" -j REJECT
    "$tool" -w -C OUTPUT -j "$RF_JOB_IMDS_CHAIN" 2>/dev/null || "$tool" -w -I OUTPUT 1 -j "$RF_JOB_IMDS_CHAIN"
  done
}

# job_imds_block USER: installs iptables if needed, applies the rules now and
# at every boot (before gitlab-runner starts). Safe to run twice.
job_imds_block() {
  local user="$1" self
  if ! command -v iptables >/dev/null 2>&1; then
    if [[ "$(pkg_kind)" == deb ]]; then pkg_install iptables; else pkg_install iptables-nft; fi
  fi
  job_imds_apply "$user"
  self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/job-imds.sh"
  if printf '%s\n' \
    '[Unit]' \
    'Description=runner-fleet: keep CI job processes away from instance metadata' \
    'After=network-pre.target' \
    'Before=gitlab-runner.service' \
    '' \
    '[Service]' \
    'Type=oneshot' \
    'RemainAfterExit=yes' \
    "ExecStart=/bin/bash $self apply $user" \
    '' \
    '[Install]' \
    'WantedBy=multi-user.target' |
    write_if_changed "$RF_SYSTEMD_DIR/$RF_JOB_IMDS_UNIT" 0644; then
    systemctl daemon-reload
  fi
  systemctl is-enabled --quiet "$RF_JOB_IMDS_UNIT" || systemctl enable --quiet "$RF_JOB_IMDS_UNIT"
  log_info "IMDS refused to processes of $user (chain $RF_JOB_IMDS_CHAIN, unit $RF_JOB_IMDS_UNIT)"
}

# job_imds_user: prints the user the runner's service starts jobs as: the
# `--user` of its ExecStart (the package's post-install writes
# `run ... --user gitlab-runner`). Fails when there is none: the runner then
# runs its jobs as its own user (root), and no rule can tell them apart.
job_imds_user() {
  local exec_start
  exec_start="$(systemctl show -p ExecStart "${RF_RUNNER_SERVICE:-gitlab-runner.service}" 2>/dev/null)" || return 1
  if [[ "$exec_start" =~ [[:space:]](--user|-u)[=[:space:]]+\"?([a-z_][a-z0-9_-]*) ]]; then
    printf '%s\n' "${BASH_REMATCH[2]}"
    return 0
  fi
  return 1
}

# job_imds_protect: blocks IMDS for the runner's job user; where jobs run as
# the runner's own user, says so (docs/security.md) and leaves IMDS open, as
# Windows does, instead of failing the launch.
job_imds_protect() {
  local user
  if ! user="$(job_imds_user)"; then
    log_warn "${RF_RUNNER_SERVICE:-gitlab-runner.service} has no --user: jobs run as the runner's own user and can reach IMDS (see docs/security.md)"
    return 0
  fi
  job_imds_block "$user"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -Eeuo pipefail
  # shellcheck source=runner_configs/linux/lib/common.sh
  . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
  [[ "${1:-}" == apply && -n "${2:-}" ]] || die "usage: job-imds.sh apply USER"
  job_imds_apply "$2"
fi

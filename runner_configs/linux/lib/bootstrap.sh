# shellcheck shell=bash source-path=SCRIPTDIR
# The launch flow shared by docker.sh, docker-autoscaler.sh and shell.sh.
# The executor script sources this file (it sources every library a launch
# needs), then defines executor_prepare (install prerequisites),
# executor_template (the [[runners]] template), executor_name and
# executor_register_args, and calls bootstrap_main.
# Any failure reports the step and ends the launch lifecycle action with
# ABANDON, so a broken instance never enters service. Safe to run twice.

rf_lib_dir="$(dirname "${BASH_SOURCE[0]}")"
. "$rf_lib_dir/common.sh"
. "$rf_lib_dir/imds.sh"
. "$rf_lib_dir/lifecycle.sh"
. "$rf_lib_dir/packages.sh"
. "$rf_lib_dir/runner.sh"
. "$rf_lib_dir/extras.sh"
. "$rf_lib_dir/job-imds.sh"
# The runner token's life on the instance: never rotated here, swapped in when SSM has a new one.
. "$rf_lib_dir/token.sh"

readonly RF_MARKER_PATCHED=patched
readonly RF_MARKER_REBOOTED=rebooted-after-patch
readonly RF_MARKER_LAUNCH_DONE=launch-completed
readonly RF_RESUME_UNIT=runner-fleet-bootstrap-resume.service
readonly RF_AGENT_UNIT=runner-fleet-lifecycle.service

# ERR records where a command failed; EXIT (also reached through die, which
# ERR does not see) stops the launch heartbeats, and after a failure reports
# the step, unregisters a runner this launch already registered (so no
# manager is left behind in GitLab) and abandons the launch.
_bootstrap_err_at=""
_bootstrap_on_err() { _bootstrap_err_at="line $1: $2"; }
_bootstrap_on_exit() {
  local status=$?
  trap - ERR EXIT
  heartbeat_loop_stop
  ((status == 0)) && return 0
  log_error "bootstrap failed at step '$RF_CURRENT_STEP' (exit $status${_bootstrap_err_at:+, $_bootstrap_err_at})"
  if ! marker_has "$RF_MARKER_LAUNCH_DONE"; then
    if runner_is_registered; then
      RF_CURRENT_STEP=unregister
      log_warn "the launch failed after registration: unregistering this runner manager before ABANDON"
      runner_unregister "$RF_UNREGISTER_TIMEOUT_SECONDS" || log_error "unregister after the failed launch failed; GitLab removes the stale runner manager after 7 days"
    fi
    if [[ -n "${RF_INSTANCE_ID:-}" && -n "${RF_ASG_NAME:-}" ]]; then
      RF_CURRENT_STEP=abandon
      lifecycle_complete "${RF_LAUNCH_HOOK:-}" ABANDON || true
    fi
  fi
  exit "$status"
}

# os_patch SCOPE: all | security | none. The launch hook is heartbeated by
# the loop bootstrap_main starts after the identity step.
# Amazon Linux 2023: `dnf upgrade` stays within the release the AMI is locked
# to (no --releasever=latest): a fleet roll brings the newest AMI, and the
# scope then applies the updates published for that release, so every
# instance of one launch template runs the same release.
os_patch() {
  local scope="$1"
  if marker_has "$RF_MARKER_PATCHED"; then
    log_info "patches already applied at $(cat "$RF_STATE_DIR/$RF_MARKER_PATCHED")"
    return 0
  fi
  case "$scope:$(pkg_kind)" in
    none:*) log_info "RF_PATCH_SCOPE=none: not patching" ;;
    all:rpm) retry "dnf upgrade" dnf upgrade -y -q --refresh ;;
    security:rpm) retry "dnf upgrade --security" dnf upgrade -y -q --refresh --security ;;
    all:deb)
      # Two commands, two lines: in `a && b` a failing `a` would not stop set -e.
      retry "apt-get update" apt-get update -q
      retry "apt-get upgrade" env DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q
      ;;
    security:deb)
      retry "apt-get update" apt-get update -q
      retry "unattended-upgrade" unattended-upgrade
      ;;
    *) die "RF_PATCH_SCOPE must be all, security or none; got '$scope'" ;;
  esac
  marker_set "$RF_MARKER_PATCHED"
}

os_reboot_required() {
  if command -v needs-restarting >/dev/null 2>&1; then
    # needs-restarting -r: exit 1 = reboot required, 0 = not required.
    local status=0
    needs-restarting -r >/dev/null 2>&1 || status=$?
    ((status == 1))
  else
    [[ -f /var/run/reboot-required ]]
  fi
}

# os_reboot_if_required SCRIPT: reboot once when the patches ask for it, and
# resume this bootstrap after the reboot with a one-shot unit. The launch
# hook is heartbeated first; the resumed run carries on inside the same action.
os_reboot_if_required() {
  local script="$1"
  if marker_has "$RF_MARKER_REBOOTED"; then
    log_info "already rebooted once after patching; continuing"
    _resume_unit_remove
    return 0
  fi
  os_reboot_required || return 0
  write_if_changed "$RF_SYSTEMD_DIR/$RF_RESUME_UNIT" 0644 <<UNIT || true
[Unit]
Description=runner-fleet: resume the bootstrap after the patch reboot
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=$script
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --quiet "$RF_RESUME_UNIT"
  marker_set "$RF_MARKER_REBOOTED"
  heartbeat_loop_stop
  lifecycle_heartbeat "${RF_LAUNCH_HOOK:-}" || true
  log_info "patches need a reboot; rebooting, the bootstrap resumes afterwards"
  RF_REBOOTING=1
  systemctl reboot
}

_resume_unit_remove() {
  if [[ -f "$RF_SYSTEMD_DIR/$RF_RESUME_UNIT" ]]; then
    systemctl disable --quiet "$RF_RESUME_UNIT" || true
    rm -f "$RF_SYSTEMD_DIR/$RF_RESUME_UNIT"
    systemctl daemon-reload
  fi
}

# logs_ship: amazon-cloudwatch-agent tails the fleet's log files into
# RF_LOG_GROUP, one stream per instance and file.
logs_ship() {
  if [[ -z "${RF_LOG_GROUP:-}" ]]; then
    log_info "RF_LOG_GROUP empty: not shipping logs"
    return 0
  fi
  cwagent_install
  local file stream collect=""
  for file in bootstrap lifecycle-agent gitlab-runner; do
    stream="{instance_id}/$file"
    collect+="${collect:+,}{\"file_path\":\"$RF_LOG_DIR/$file.log\",\"log_group_name\":\"$RF_LOG_GROUP\",\"log_stream_name\":\"$stream\",\"retention_in_days\":-1}"
  done
  if printf '{"logs":{"logs_collected":{"files":{"collect_list":[%s]}}}}\n' "$collect" |
    write_if_changed "$RF_CWAGENT_CONFIG_DIR/runner-fleet.json" 0644; then
    amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "file:$RF_CWAGENT_CONFIG_DIR/runner-fleet.json" >/dev/null
  fi
}

# agent_install: the lifecycle agent's unit, enabled and started.
agent_install() {
  if write_if_changed "$RF_SYSTEMD_DIR/$RF_AGENT_UNIT" 0644 <"$RF_INSTALL_DIR/systemd/$RF_AGENT_UNIT"; then
    systemctl daemon-reload
  fi
  systemctl is-enabled --quiet "$RF_AGENT_UNIT" || systemctl enable --quiet "$RF_AGENT_UNIT"
  systemctl is-active --quiet "$RF_AGENT_UNIT" || systemctl start "$RF_AGENT_UNIT"
}

# launch_complete: the heartbeats stop first, so none arrives after CONTINUE.
launch_complete() {
  heartbeat_loop_stop
  if marker_has "$RF_MARKER_LAUNCH_DONE"; then
    log_info "launch lifecycle action already completed"
    return 0
  fi
  lifecycle_complete "${RF_LAUNCH_HOOK:-}" CONTINUE
  marker_set "$RF_MARKER_LAUNCH_DONE"
}

# runner_restart_after_register: restart the service so it runs with this
# host's system_id, the drop-in and the registration, whatever the package's
# post-install started. Only before the launch is completed: afterwards the
# runner may be running jobs and a second bootstrap run must change nothing.
runner_restart_after_register() {
  if marker_has "$RF_MARKER_LAUNCH_DONE"; then
    log_info "launch already completed; not restarting $RF_RUNNER_SERVICE"
    return 0
  fi
  runner_service_restart
}

# bootstrap_main SCRIPT_PATH: the launch steps, in order.
bootstrap_main() {
  local script="$1"
  # shellcheck disable=SC2034 # read by log() in lib/common.sh
  RF_SCRIPT_NAME=bootstrap
  mkdir -p "$RF_LOG_DIR" "$RF_STATE_DIR"
  trap '_bootstrap_on_err "$LINENO" "$BASH_COMMAND"' ERR
  trap _bootstrap_on_exit EXIT
  step load-env rf_load_env "$RF_ENV_FILE"
  step settings fleet_settings
  step aws-cli aws_cli_install
  step identity fleet_identity
  log_info "instance $RF_INSTANCE_ID in group $RF_ASG_NAME, executor $RF_EXECUTOR"
  # Heartbeat the launch hook for the whole launch: downloads (up to
  # RF_DOWNLOAD_MAX_TIME_SECONDS each), register and verify can outlast its timeout.
  marker_has "$RF_MARKER_LAUNCH_DONE" || heartbeat_loop_start "${RF_LAUNCH_HOOK:-}"
  step patch os_patch "${RF_PATCH_SCOPE:-security}"
  step reboot os_reboot_if_required "$script"
  [[ -z "${RF_REBOOTING:-}" ]] || return 0
  step logs logs_ship
  step executor-prerequisites executor_prepare
  # The system_id and the drop-in exist before the package's post-install
  # first starts gitlab-runner, so it never generates its own system_id.
  step system-id runner_write_system_id "$RF_INSTANCE_ID"
  step runner-config runner_write_global_config "$RF_CONCURRENT"
  step drain-dropin runner_install_dropin "$RF_MAX_DRAIN_SECONDS"
  step install-runner runner_install "${RF_RUNNER_VERSION:-latest}"
  step job-imds job_imds_protect
  local template
  template="$RF_STATE_DIR/runner-template.toml"
  # Rendered first: a failing template (bad extra settings) must stop the
  # launch, which `... | write_if_changed || true` would hide.
  local rendered
  rendered="$(executor_template)" || die "could not render the [[runners]] template"
  printf '%s\n' "$rendered" | write_if_changed "$template" 0600 || true
  local -a extra=()
  mapfile -t extra < <(executor_register_args)
  step register runner_register "$RF_STACK_NAME-$RF_INSTANCE_ID" "$(executor_name)" "$template" "${extra[@]}"
  step pin-token token_pin_no_rotation
  # Optional: what an executor needs from the registered config.toml (docker-autoscaler.sh).
  if declare -F executor_after_register >/dev/null; then step after-register executor_after_register; fi
  step restart-runner runner_restart_after_register
  step verify runner_verify
  step start-runner runner_service_start
  step start-agent agent_install
  step complete-launch launch_complete
  RF_CURRENT_STEP=finished
  log_info "instance $RF_INSTANCE_ID is in service"
}

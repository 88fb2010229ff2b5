# shellcheck shell=bash
# The launch flow shared by docker.sh and shell.sh. The executor script
# defines executor_prepare (install prerequisites), executor_template (the
# [[runners]] template), executor_name and executor_register_args, then
# calls bootstrap_main.
# Any failure reports the step and ends the launch lifecycle action with
# ABANDON, so a broken instance never enters service. Safe to run twice.
# Requires lib/common.sh, lib/imds.sh, lib/lifecycle.sh, lib/runner.sh.

readonly RF_MARKER_PATCHED=patched
readonly RF_MARKER_REBOOTED=rebooted-after-patch
readonly RF_MARKER_LAUNCH_DONE=launch-completed
readonly RF_RESUME_UNIT=runner-fleet-bootstrap-resume.service
readonly RF_AGENT_UNIT=runner-fleet-lifecycle.service

# ERR records where a command failed; EXIT (also reached through die, which
# ERR does not see) reports the step and abandons the launch.
_bootstrap_err_at=""
_bootstrap_on_err() { _bootstrap_err_at="line $1: $2"; }
_bootstrap_on_exit() {
  local status=$?
  trap - ERR EXIT
  ((status == 0)) && return 0
  heartbeat_loop_stop
  log_error "bootstrap failed at step '$RF_CURRENT_STEP' (exit $status${_bootstrap_err_at:+, $_bootstrap_err_at})"
  if [[ -n "${RF_INSTANCE_ID:-}" && -n "${RF_ASG_NAME:-}" ]] && ! marker_has "$RF_MARKER_LAUNCH_DONE"; then
    RF_CURRENT_STEP=abandon
    lifecycle_complete "${RF_LAUNCH_HOOK:-}" ABANDON || true
  fi
  exit "$status"
}

# fleet_settings: derived settings, after fleet.env is loaded.
fleet_settings() {
  rf_require RF_REGION RF_GITLAB_URL RF_EXECUTOR RF_CONCURRENT RF_TOKEN_SOURCE RF_METRICS_NAMESPACE
  # Heartbeat at a third of the hook's timeout so two lost heartbeats in a
  # row still do not let the hook expire.
  readonly RF_HEARTBEAT_INTERVAL_SECONDS="${RF_HEARTBEAT_INTERVAL_SECONDS:-$((${RF_HEARTBEAT_TIMEOUT:-600} / 3))}"
  # 3 h: long CI jobs finish; well under the hook's global limit (100 x heartbeat timeout, 48 h max).
  RF_MAX_DRAIN_SECONDS="${RF_MAX_DRAIN_SECONDS:-10800}"
  export RF_MAX_DRAIN_SECONDS
}

# os_patch SCOPE: all | security | none. Heartbeats the launch hook while
# the package manager runs, since a full upgrade can outlast the timeout.
os_patch() {
  local scope="$1"
  if marker_has "$RF_MARKER_PATCHED"; then
    log_info "patches already applied at $(cat "$RF_STATE_DIR/$RF_MARKER_PATCHED")"
    return 0
  fi
  heartbeat_loop_start "${RF_LAUNCH_HOOK:-}"
  case "$scope:$(_pkg_kind)" in
    none:*) log_info "RF_PATCH_SCOPE=none: not patching" ;;
    all:rpm) retry "dnf upgrade" dnf upgrade -y -q --refresh ;;
    security:rpm) retry "dnf upgrade --security" dnf upgrade -y -q --refresh --security ;;
    all:deb) retry "apt-get update" apt-get update -q && retry "apt-get upgrade" env DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q ;;
    security:deb) retry "apt-get update" apt-get update -q && retry "unattended-upgrade" unattended-upgrade ;;
    *) die "RF_PATCH_SCOPE must be all, security or none; got '$scope'" ;;
  esac
  heartbeat_loop_stop
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
  command -v amazon-cloudwatch-agent-ctl >/dev/null 2>&1 || pkg_install amazon-cloudwatch-agent
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

launch_complete() {
  if marker_has "$RF_MARKER_LAUNCH_DONE"; then
    log_info "launch lifecycle action already completed"
    return 0
  fi
  lifecycle_complete "${RF_LAUNCH_HOOK:-}" CONTINUE
  marker_set "$RF_MARKER_LAUNCH_DONE"
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
  step identity fleet_identity
  log_info "instance $RF_INSTANCE_ID in group $RF_ASG_NAME, executor $RF_EXECUTOR"
  step patch os_patch "${RF_PATCH_SCOPE:-security}"
  step reboot os_reboot_if_required "$script"
  [[ -z "${RF_REBOOTING:-}" ]] || return 0
  step logs logs_ship
  step executor-prerequisites executor_prepare
  step install-runner runner_install "${RF_RUNNER_VERSION:-latest}"
  step system-id runner_write_system_id "$RF_INSTANCE_ID"
  step runner-config runner_write_global_config "$RF_CONCURRENT"
  step drain-dropin runner_install_dropin "$RF_MAX_DRAIN_SECONDS"
  local template
  template="$RF_STATE_DIR/runner-template.toml"
  executor_template | write_if_changed "$template" 0600 || true
  local -a extra=()
  mapfile -t extra < <(executor_register_args)
  step register runner_register "$RF_STACK_NAME-$RF_INSTANCE_ID" "$(executor_name)" "$template" "${extra[@]}"
  step verify runner_verify
  step start-runner runner_service_start
  step start-agent agent_install
  step complete-launch launch_complete
  RF_CURRENT_STEP=finished
  log_info "instance $RF_INSTANCE_ID is in service"
}

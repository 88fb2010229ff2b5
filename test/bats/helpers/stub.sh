#!/usr/bin/env bash
# One recording stub for the commands the instance scripts call: aws,
# gitlab-runner, systemctl, dnf, needs-restarting, amazon-cloudwatch-agent-ctl,
# docker, and the pass-throughs curl and uname (linked under those names). Each call appends its argv as one line
# to $STUB_LOG; behaviour is switched by files in $STUB_DIR. It never records
# environment values, only whether a token variable was set.
#
# systemctl follows systemd's unit states for the runner's service (checked
# against systemd 252, the version Amazon Linux 2023 ships, and its source:
# src/systemctl/systemctl-is-active.c, src/core/service.c):
#  - start/restart: ActiveState=active, SubState=running, a MainPID.
#  - stop (with the drop-in: KillSignal=SIGQUIT, KillMode=process): the runner
#    gets SIGQUIT. Idle, it exits at once (inactive/dead, MainPID=0). With jobs
#    running ($STUB_DIR/metrics) the unit stays ActiveState=deactivating,
#    SubState=stop-sigterm (systemd names the phase, whatever KillSignal is),
#    MainPID unchanged, until the jobs end; then inactive/dead, MainPID=0.
#    --no-block returns at once; a blocking stop waits for that end.
#  - is-active prints the ActiveState (unless --quiet) and exits 0 only for
#    active, reloading and refreshing, else 3 (LSB "program is not running"):
#    so `deactivating` exits 3 while jobs still run.
#  - show -p ActiveState,SubState,MainPID prints Key=value lines in systemd's
#    order (the Service properties such as MainPID before the Unit ones),
#    not in the order asked.
#  - kill --kill-whom=main --signal=SIGTERM: the runner aborts its jobs and
#    exits (after $STUB_DIR/sigterm-exit-seconds when that file exists);
#    without a main process it fails like systemctl ("No main process").
# Not modelled: Restart= after a main process exits on its own (the scripts
# never signal a unit that is not stopping), activating, reload.
# test/bats/systemctl-stub.bats runs the same stop against a real systemd
# user manager and requires the same answers, line for line.
set -Euo pipefail
name="$(basename "$0")"
: "${STUB_DIR:?}" "${STUB_LOG:?}"

# real COMMAND ARGS...: run the real command, skipping this stub on PATH.
real() {
  local self_dir cmd dir
  local -a dirs
  self_dir="$(dirname "$0")"
  cmd="$1"
  shift
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [[ "$dir" != "$self_dir" && -x "$dir/$cmd" ]] && exec "$dir/$cmd" "$@"
  done
  echo "stub: no real $cmd on PATH" >&2
  exit 127
}

# curl and uname pass through to the real commands. curl records only the
# runner package downloads (URLs under $STUB_DOWNLOAD_BASE), not IMDS polls;
# uname -m answers $STUB_DIR/machine when present (architecture tests).
case "$name" in
  curl)
    for a in "$@"; do
      if [[ -n "${STUB_DOWNLOAD_BASE:-}" && "$a" == "$STUB_DOWNLOAD_BASE"/* ]]; then
        printf 'curl GET %s\n' "$a" >>"$STUB_LOG"
      fi
    done
    real curl "$@" ;;
  uname)
    if [[ "${1:-}" == -m && -f "$STUB_DIR/machine" ]]; then cat "$STUB_DIR/machine"; exit 0; fi
    real uname "$@" ;;
esac

line="$name $*"
[[ -n "${CI_SERVER_TOKEN:-}" ]] && line+=" [env CI_SERVER_TOKEN set]"
[[ -n "${REGISTRATION_TOKEN:-}" ]] && line+=" [env REGISTRATION_TOKEN set]"
printf '%s\n' "$line" >>"$STUB_LOG"
# The benchmarks time calls: "<epoch seconds with ns> <argv>" when asked.
[[ -z "${STUB_CLOCK_LOG:-}" ]] || printf '%s %s\n' "$(date +%s.%N)" "$line" >>"$STUB_CLOCK_LOG"

flag() { [[ -e "$STUB_DIR/$1" ]]; }
busy_jobs() {
  awk '$1 ~ /^gitlab_runner_jobs([{]|$)/ { s += $NF } END { print s + 0 }' "$STUB_DIR/metrics" 2>/dev/null || echo 0
}
config_arg() {
  local prev=""
  for a in "$@"; do
    [[ "$prev" == --config ]] && { echo "$a"; return; }
    prev="$a"
  done
}

# ---- systemctl: the unit state machine described in the header ----------
units="$STUB_DIR/units"
unit_file() { echo "$units/$1.state"; }
# unit_read UNIT: ActiveState SubState MainPID into the globals.
unit_read() {
  ACTIVE=inactive SUB=dead MAINPID=0
  [[ -f "$(unit_file "$1")" ]] && read -r ACTIVE SUB MAINPID <"$(unit_file "$1")"
  # runner_running and the package's post-install mark a started unit with .active.
  if [[ -e "$units/$1.active" ]]; then
    rm -f "$units/$1.active"
    unit_start "$1"
  fi
}
unit_write() { mkdir -p "$units" && echo "$2 $3 $4" >"$(unit_file "$1")"; }
unit_start() {
  local pid=$(( $(cat "$units/next-pid" 2>/dev/null || echo 4100) + 1 ))
  mkdir -p "$units" && echo "$pid" >"$units/next-pid"
  ACTIVE=active SUB=running MAINPID="$pid"
  unit_write "$1" active running "$pid"
}
# unit_settle UNIT: let time pass: a stopping runner exits when its jobs end,
# or, after SIGTERM, when its abort is done.
unit_settle() {
  unit_read "$1"
  [[ "$ACTIVE" == deactivating ]] || return 0
  if [[ -f "$units/$1.sigterm-exit-at" ]]; then
    (($(date +%s) >= $(cat "$units/$1.sigterm-exit-at"))) || return 0
    rm -f "$units/$1.sigterm-exit-at"
  elif (($(busy_jobs) > 0)); then
    return 0
  fi
  ACTIVE=inactive SUB=dead MAINPID=0
  unit_write "$1" inactive dead 0
}
systemctl_stub() {
  local -a args=()
  local a quiet="" block=1 props=""
  for a in "$@"; do
    case "$a" in
      --quiet) quiet=1 ;;
      --no-block) block="" ;;
      --property=*) props="${a#--property=}" ;;
      *) args+=("$a") ;;
    esac
  done
  local verb="${args[0]:-}" unit="${args[1]:-}" i
  if [[ "$verb" == show ]]; then
    for ((i = 1; i < ${#args[@]}; i++)); do
      if [[ "${args[i]}" == -p ]]; then props="${args[i + 1]}"; unit="${args[i + 2]:-}"; fi
    done
  fi
  if [[ "$verb" == kill ]]; then unit="${args[${#args[@]} - 1]}"; fi
  [[ -n "$unit" && "$unit" != *.* ]] && unit="$unit.service"
  mkdir -p "$units"
  case "$verb" in
    is-active)
      unit_settle "$unit"
      [[ -n "$quiet" ]] || echo "$ACTIVE"
      [[ "$ACTIVE" == active || "$ACTIVE" == reloading || "$ACTIVE" == refreshing ]] || exit 3 ;;
    show)
      unit_settle "$unit"
      local p
      for p in MainPID ActiveState SubState ExecStart; do
        [[ ",$props," == *",$p,"* ]] || continue
        case "$p" in
          # As systemd shows the unit the runner package's post-install writes
          # (gitlab-runner install --user=gitlab-runner ...).
          ExecStart) echo "ExecStart={ path=/usr/bin/gitlab-runner ; argv[]=/usr/bin/gitlab-runner run --working-directory /home/gitlab-runner --config /etc/gitlab-runner/config.toml --service gitlab-runner --user gitlab-runner ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }" ;;
          MainPID) echo "MainPID=$MAINPID" ;;
          ActiveState) echo "ActiveState=$ACTIVE" ;;
          SubState) echo "SubState=$SUB" ;;
        esac
      done ;;
    is-enabled) [[ -e "$units/$unit.enabled" ]] ;;
    enable) touch "$units/$unit.enabled" ;;
    disable) rm -f "$units/$unit.enabled" ;;
    start)
      unit_settle "$unit"
      [[ "$ACTIVE" == active ]] || unit_start "$unit" ;;
    restart) unit_start "$unit" ;;
    stop)
      unit_settle "$unit"
      if [[ "$ACTIVE" == active ]]; then
        unit_write "$unit" deactivating stop-sigterm "$MAINPID"
        unit_settle "$unit"
      fi
      if [[ -n "$block" ]]; then
        for ((i = 0; i < 600; i++)); do
          unit_settle "$unit"
          [[ "$ACTIVE" == deactivating ]] || break
          sleep 0.1
        done
      fi ;;
    kill)
      unit_settle "$unit"
      if ((MAINPID == 0)); then
        echo "Failed to kill unit $unit: No main process to kill" >&2
        exit 1
      fi
      date +%s >"$STUB_DIR/sigterm-at"
      local exit_after=0
      flag sigterm-exit-seconds && exit_after="$(cat "$STUB_DIR/sigterm-exit-seconds")"
      echo $(($(date +%s) + exit_after)) >"$units/$unit.sigterm-exit-at"
      [[ "$ACTIVE" == deactivating ]] || unit_write "$unit" deactivating stop-sigterm "$MAINPID"
      unit_settle "$unit" ;;
    reboot) touch "$STUB_DIR/rebooted" ;;
    *) : ;;
  esac
}

case "$name" in
  aws)
    [[ "${1:-}" == --region ]] && shift 2
    case "${1:-} ${2:-}" in
      "ssm get-parameter" | "secretsmanager get-secret-value")
        if flag ssm-fail; then echo "An error occurred (ParameterNotFound)" >&2; exit 254; fi
        cat "$STUB_DIR/token"; echo ;;
      "autoscaling complete-lifecycle-action")
        if flag complete-fail; then echo "An error occurred (ValidationError)" >&2; exit 254; fi ;;
      *) : ;;
    esac ;;
  gitlab-runner)
    case "${1:-}" in
      --version)
        flag runner-installed || exit 1
        printf 'Version:      %s\nGit revision: stub\n' "$(cat "$STUB_DIR/runner-installed")" ;;
      register)
        cfg="$(config_arg "$@")"
        if flag gitlab-unreachable; then echo "ERROR: Verifying runner... dial tcp: connection refused" >&2; exit 1; fi
        if [[ "${CI_SERVER_TOKEN:-}" != "$(cat "$STUB_DIR/valid-token")" ]]; then
          echo "ERROR: Verifying runner... is not valid  runner=unknown status=403 Forbidden" >&2; exit 1
        fi
        printf '\n[[runners]]\n  name = "stub"\n  token = "%s"\n  executor = "shell"\n' "$CI_SERVER_TOKEN" >>"$cfg" ;;
      verify)
        if flag gitlab-unreachable || flag verify-fail; then echo "ERROR: Verifying runner... connection refused" >&2; exit 1; fi ;;
      unregister)
        cfg="$(config_arg "$@")"
        # GitLab not answering: the runner's HTTP client waits (up to 60 min).
        if flag unregister-hang-seconds; then sleep "$(cat "$STUB_DIR/unregister-hang-seconds")"; fi
        if flag unregister-fail; then
          # The real runner logs the failure, keeps the entry and exits 0.
          echo 'ERROR: Failed to unregister runners error=failed to unregister runner "stub"' >&2; exit 0
        fi
        sed -i '/^\[\[runners\]\]/,$d' "$cfg"
        date +%s >"$STUB_DIR/unregistered-at" ;;
    esac ;;
  systemctl)
    systemctl_stub "$@" ;;
  dnf)
    if [[ "${1:-}" == install && "$*" == *gitlab-runner_* ]]; then
      # A slow download/install, and the package's post-install, which
      # starts gitlab-runner.service; recorded with what it found on disk.
      if flag install-seconds; then sleep "$(cat "$STUB_DIR/install-seconds")"; fi
      printf '%s' "${STUB_RUNNER_VERSION:-17.11.1}" >"$STUB_DIR/runner-installed"
      cfg_dir="${RF_RUNNER_CONFIG_DIR:-/etc/gitlab-runner}"
      sid="$(cat "$cfg_dir/.runner_system_id" 2>/dev/null || echo missing)"
      dropin=missing
      [[ -f "${RF_SYSTEMD_DIR:-/etc/systemd/system}/gitlab-runner.service.d/10-runner-fleet-drain.conf" ]] && dropin=present
      mkdir -p "$STUB_DIR/units" && touch "$STUB_DIR/units/gitlab-runner.service.active"
      printf 'POSTINST started gitlab-runner.service system_id=%s dropin=%s\n' "$sid" "$dropin" >>"$STUB_LOG"
    fi ;;
  needs-restarting)
    if flag needs-reboot; then echo "Reboot is required"; exit 1; fi ;;
  *) : ;;
esac

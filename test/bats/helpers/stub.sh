#!/usr/bin/env bash
# One recording stub for the commands the instance scripts call: aws,
# gitlab-runner, systemctl, dnf, needs-restarting, amazon-cloudwatch-agent-ctl,
# docker, and the pass-throughs curl and uname (linked under those names). Each call appends its argv as one line
# to $STUB_LOG; behaviour is switched by files in $STUB_DIR. It never records
# environment values, only whether a token variable was set.
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
        if flag unregister-fail; then
          # The real runner logs the failure, keeps the entry and exits 0.
          echo 'ERROR: Failed to unregister runners error=failed to unregister runner "stub"' >&2; exit 0
        fi
        sed -i '/^\[\[runners\]\]/,$d' "$cfg"
        date +%s >"$STUB_DIR/unregistered-at" ;;
    esac ;;
  systemctl)
    args=()
    for a in "$@"; do [[ "$a" == --quiet || "$a" == --no-block ]] || args+=("$a"); done
    units="$STUB_DIR/units"; mkdir -p "$units"
    verb="${args[0]:-}"; unit="${args[1]:-}"
    [[ -n "$unit" && "$unit" != *.* ]] && unit="$unit.service"
    case "$verb" in
      is-active)
        if [[ -e "$units/$unit.stopping" ]] && (($(busy_jobs) == 0)); then rm -f "$units/$unit.stopping" "$units/$unit.active"; fi
        # After SIGTERM the runner needs $STUB_DIR/sigterm-exit-seconds to report the aborted jobs and exit.
        if [[ -e "$units/$unit.dying" ]] && (($(date +%s) >= $(cat "$units/$unit.dying"))); then
          rm -f "$units/$unit.dying" "$units/$unit.stopping" "$units/$unit.active"
        fi
        [[ -e "$units/$unit.active" ]] ;;
      is-enabled) [[ -e "$units/$unit.enabled" ]] ;;
      enable) touch "$units/$unit.enabled" ;;
      disable) rm -f "$units/$unit.enabled" ;;
      start | restart) touch "$units/$unit.active" ;;
      stop) [[ -e "$units/$unit.active" ]] && touch "$units/$unit.stopping"; true ;;
      kill)
        date +%s >"$STUB_DIR/sigterm-at"
        for a in "${args[@]:1}"; do
          [[ "$a" == *.service ]] || continue
          if flag sigterm-exit-seconds; then
            echo $(($(date +%s) + $(cat "$STUB_DIR/sigterm-exit-seconds"))) >"$units/$a.dying"
          else
            rm -f "$units/$a.stopping" "$units/$a.active"
          fi
        done ;;
      reboot) touch "$STUB_DIR/rebooted" ;;
      *) : ;;
    esac ;;
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

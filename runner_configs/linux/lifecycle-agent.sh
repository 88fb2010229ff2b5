#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The lifecycle agent: a long-running service that watches IMDSv2 and
#  - on a terminate lifecycle transition (scale-in, instance refresh, manual)
#    drains the runner with SIGQUIT, heartbeats the hook while jobs run (up to
#    RF_MAX_DRAIN_SECONDS), unregisters this runner manager and always
#    completes the lifecycle action with CONTINUE;
#  - on a spot interruption notice drains within the two minutes and unregisters;
#  - while in service protects the instance from scale-in when jobs run and
#    publishes the slot metrics every RF_METRICS_INTERVAL_SECONDS.
# Exit codes: 0 after a drain, 1 on a configuration error (systemd restarts it).
set -Eeuo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RF_SCRIPT_NAME=lifecycle-agent
. "$here/lib/common.sh"
. "$here/lib/imds.sh"
. "$here/lib/lifecycle.sh"
. "$here/lib/runner.sh"
. "$here/lib/bootstrap.sh"

trap 'log_warn "command failed at line $LINENO: $BASH_COMMAND"' ERR

# agent_drain REASON DEADLINE_EPOCH HOOK [SPOT_NOTICE_JSON]: the whole drain;
# the completion of the lifecycle action runs whatever happened before it.
# A spot notice (given, or seen while a terminate drain runs) moves the
# deadline to spot_deadline: the forced stop's wait and the unregister then
# both fit before the reclaim.
agent_drain() {
  local reason="$1" deadline="$2" hook="$3" spot="${4:-}" unregister_by=0 next_heartbeat now spot_jobs_deadline max_wait
  RF_CURRENT_STEP=drain
  if [[ -n "$spot" ]]; then
    deadline="$(spot_deadline "$spot")"
    unregister_by=$(($(spot_notice_epoch "$spot") - RF_SPOT_UNREGISTER_RESERVE_SECONDS))
  fi
  log_info "draining ($reason): up to $((deadline - $(now_epoch)))s for running jobs"
  runner_drain_begin || log_error "could not stop $RF_RUNNER_SERVICE gracefully"
  next_heartbeat=$(($(now_epoch) + RF_HEARTBEAT_INTERVAL_SECONDS))
  while runner_service_active; do
    if [[ -z "$spot" ]] && spot="$(spot_notice_pending)"; then
      spot_jobs_deadline="$(spot_deadline "$spot")"
      unregister_by=$(($(spot_notice_epoch "$spot") - RF_SPOT_UNREGISTER_RESERVE_SECONDS))
      ((spot_jobs_deadline >= deadline)) || deadline="$spot_jobs_deadline"
      log_warn "spot interruption notice during the drain ($reason): $spot; jobs now end within $((deadline - $(now_epoch)))s"
    fi
    now="$(now_epoch)"
    if ((now >= deadline)); then
      log_warn "jobs still running at the drain deadline ($reason)"
      max_wait="$RF_FORCED_STOP_WAIT_SECONDS"
      if ((unregister_by > 0)); then
        max_wait=$((unregister_by - now))
        ((max_wait >= 0)) || max_wait=0
      fi
      runner_force_stop "$max_wait"
      break
    fi
    if [[ -n "$hook" ]] && ((now >= next_heartbeat)); then
      lifecycle_heartbeat "$hook" || true
      next_heartbeat=$(($(now_epoch) + RF_HEARTBEAT_INTERVAL_SECONDS))
    fi
    sleep "$RF_POLL_INTERVAL_SECONDS"
  done
  log_info "runner stopped"
  RF_CURRENT_STEP=unregister
  runner_unregister || log_error "unregister failed; GitLab removes the stale runner manager after 7 days"
  if [[ -n "$hook" ]]; then
    RF_CURRENT_STEP=complete
    lifecycle_complete "$hook" CONTINUE || true
  fi
}

# spot_notice_pending: print the spot/instance-action JSON when it announces
# an interruption (terminate, stop, hibernate); fail otherwise (404 = none).
spot_notice_pending() {
  local spot
  spot="$(imds_spot_action)" || return 1
  [[ "$spot" == *terminate* || "$spot" == *stop* || "$spot" == *hibernate* ]] || return 1
  printf '%s' "$spot"
}

# spot_notice_epoch JSON: the notice's "time" as epoch. A missing, empty or
# unparsable time (date -d "" would mean midnight) falls back to now +
# RF_SPOT_NOTICE_SECONDS, the documented two minutes.
spot_notice_epoch() {
  local when epoch=""
  when="$(sed -n 's/.*"time"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$1")"
  if [[ -n "$when" ]]; then
    epoch="$(date -d "$when" +%s 2>/dev/null)" || epoch=""
  fi
  if [[ -z "$epoch" ]]; then
    log_warn "spot notice without a usable time ('$when'); assuming ${RF_SPOT_NOTICE_SECONDS}s from now"
    epoch=$(($(now_epoch) + RF_SPOT_NOTICE_SECONDS))
  fi
  echo "$epoch"
}

# spot_deadline JSON: epoch by which running jobs must be stopped: notice time
# minus the unregister reserve minus the forced stop's wait, so SIGTERM, the
# wait for the runner to report aborted jobs and the unregister all end
# before the reclaim.
spot_deadline() {
  echo $(($(spot_notice_epoch "$1") - RF_SPOT_UNREGISTER_RESERVE_SECONDS - RF_FORCED_STOP_WAIT_SECONDS))
}

# protection_update BUSY: call the API only when the wanted state changes.
_protected=unknown
protection_update() {
  local want=false
  (($1 > 0)) && want=true
  [[ "$want" == "$_protected" ]] && return 0
  if scale_in_protection_set "$want"; then
    log_info "scale-in protection $([[ $want == true ]] && echo set || echo cleared) (busy=$1)"
    _protected="$want"
  else
    log_warn "set-instance-protection $want failed; retrying next poll"
  fi
}

agent_main() {
  mkdir -p "$RF_LOG_DIR"
  RF_CURRENT_STEP=start
  rf_load_env "$RF_ENV_FILE"
  fleet_settings
  # fleet_identity returns 1 (logged) when IMDS is unwell: retry until it answers.
  until fleet_identity; do sleep "$RF_POLL_INTERVAL_SECONDS"; done
  log_info "watching IMDS at $RF_IMDS_ENDPOINT for $RF_INSTANCE_ID in $RF_ASG_NAME"
  local state spot rebalance_seen="" busy concurrent next_metrics=0 status
  while true; do
    RF_CURRENT_STEP=watch
    _imds_refresh_token || true
    if spot="$(spot_notice_pending)"; then
      log_warn "spot interruption notice: $spot"
      agent_drain "spot interruption" 0 "" "$spot"
      state="$(imds_lifecycle_state || true)"
      [[ "$state" != Terminated ]] || lifecycle_complete "${RF_TERMINATE_HOOK:-}" CONTINUE || true
      return 0
    fi
    status=0
    state="$(imds_lifecycle_state)" || status=$?
    if ((status == 0)) && [[ "$state" == Terminated ]]; then
      agent_drain "lifecycle transition to Terminated" "$(($(now_epoch) + RF_MAX_DRAIN_SECONDS))" "${RF_TERMINATE_HOOK:-}"
      return 0
    fi
    if [[ -z "$rebalance_seen" ]] && rebalance_seen="$(imds_rebalance)"; then
      log_warn "rebalance recommendation $rebalance_seen: capacity rebalancing replaces this instance through the normal drain"
    fi
    if busy="$(runner_busy_jobs)"; then
      protection_update "$busy"
      if (($(now_epoch) >= next_metrics)); then
        concurrent="$(runner_metric gitlab_runner_concurrent)" || concurrent=0
        ((concurrent > 0)) || concurrent="$RF_CONCURRENT"
        metrics_publish "$busy" "$concurrent" || log_warn "put-metric-data failed"
        next_metrics=$(($(now_epoch) + RF_METRICS_INTERVAL_SECONDS))
      fi
    else
      log_warn "runner metrics at $RF_RUNNER_METRICS_URL unavailable"
    fi
    token_watch || log_warn "runner token watch failed; retrying next poll"
    sleep "$RF_POLL_INTERVAL_SECONDS"
  done
}

agent_main "$@"

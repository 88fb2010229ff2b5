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

# agent_drain REASON DEADLINE_EPOCH HOOK: the whole drain; the completion of
# the lifecycle action runs whatever happened before it.
agent_drain() {
  local reason="$1" deadline="$2" hook="$3" next_heartbeat
  RF_CURRENT_STEP=drain
  log_info "draining ($reason): up to $((deadline - $(now_epoch)))s for running jobs"
  runner_drain_begin || log_error "could not stop $RF_RUNNER_SERVICE gracefully"
  next_heartbeat=$(($(now_epoch) + RF_HEARTBEAT_INTERVAL_SECONDS))
  while runner_service_active; do
    if (($(now_epoch) >= deadline)); then
      log_warn "jobs still running at the drain deadline ($reason)"
      runner_force_stop
      break
    fi
    if [[ -n "$hook" ]] && (($(now_epoch) >= next_heartbeat)); then
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

# spot_deadline JSON: epoch by which the runner must be gone.
spot_deadline() {
  local when epoch
  when="$(sed -n 's/.*"time"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$1")"
  epoch="$(date -d "$when" +%s 2>/dev/null)" || epoch=$(($(now_epoch) + RF_SPOT_NOTICE_SECONDS))
  echo $((epoch - RF_SPOT_UNREGISTER_RESERVE_SECONDS))
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
  until fleet_identity; do sleep "$RF_POLL_INTERVAL_SECONDS"; done
  log_info "watching IMDS at $RF_IMDS_ENDPOINT for $RF_INSTANCE_ID in $RF_ASG_NAME"
  local state spot rebalance_seen="" busy concurrent next_metrics=0 status
  while true; do
    RF_CURRENT_STEP=watch
    _imds_refresh_token || true
    status=0
    spot="$(imds_spot_action)" || status=$?
    if ((status == 0)) && [[ "$spot" == *terminate* || "$spot" == *stop* || "$spot" == *hibernate* ]]; then
      log_warn "spot interruption notice: $spot"
      agent_drain "spot interruption" "$(spot_deadline "$spot")" ""
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
    sleep "$RF_POLL_INTERVAL_SECONDS"
  done
}

agent_main "$@"

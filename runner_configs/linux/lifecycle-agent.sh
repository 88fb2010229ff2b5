#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The lifecycle agent: a long-running service that watches IMDSv2 and
#  - on a terminate lifecycle transition (scale-in, instance refresh, manual)
#    drains the runner with SIGQUIT, heartbeats the hook while the runner's
#    main process still runs jobs (up to RF_MAX_DRAIN_SECONDS), unregisters
#    this runner manager and completes the lifecycle action with CONTINUE;
#  - on a spot interruption notice drains within the two minutes and unregisters;
#  - while in service protects the instance from scale-in when jobs run and
#    publishes the slot metrics every RF_METRICS_INTERVAL_SECONDS.
# A drain keeps its state in RF_DRAIN_STATE_FILE: an agent restarted
# mid-drain resumes it (same deadline, the runner is never started again).
# Exit codes: 0 after a drain, 1 on a configuration error or a crash (systemd
# restarts it), 128+N when stopped by signal N (a drain resumes on restart).
set -Eeuo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RF_SCRIPT_NAME=lifecycle-agent
. "$here/lib/common.sh"
. "$here/lib/imds.sh"
. "$here/lib/lifecycle.sh"
. "$here/lib/runner.sh"
. "$here/lib/token.sh"

trap 'log_warn "command failed at line $LINENO: $BASH_COMMAND"' ERR

# ---- the drain ------------------------------------------------------------
# One drain per instance, described by these globals and mirrored in
# RF_DRAIN_STATE_FILE after every change:
#   DRAIN_REASON, DRAIN_STARTED_AT, DRAIN_DEADLINE (epoch: SIGTERM when jobs
#   still run), DRAIN_HOOK (lifecycle hook to complete; empty for a spot drain
#   outside a lifecycle action), DRAIN_SPOT (the notice's JSON),
#   DRAIN_NOTICE_AT (the reclaim time, 0 without a notice), DRAIN_UNREGISTERED,
#   DRAIN_COMPLETED (0/1), DRAIN_PHASE (draining | finished).
DRAIN_REASON="" DRAIN_STARTED_AT=0 DRAIN_DEADLINE=0 DRAIN_HOOK="" DRAIN_SPOT="" DRAIN_NOTICE_AT=0
DRAIN_UNREGISTERED=0 DRAIN_COMPLETED=0 DRAIN_PHASE="" DRAIN_RESUMED=0
# 1 from the start of a drain until it has completed: the EXIT trap acts only then.
_drain_running=0

# drain_state_save: write the drain's globals atomically (tmp + rename). A
# failed write is logged, never fatal: the drain itself goes on.
drain_state_save() {
  local tmp="$RF_DRAIN_STATE_FILE.tmp"
  if mkdir -p "$(dirname "$RF_DRAIN_STATE_FILE")" && printf '%s\n' \
    "RF_DRAIN_INSTANCE_ID=$RF_INSTANCE_ID" "RF_DRAIN_REASON=$DRAIN_REASON" \
    "RF_DRAIN_STARTED_AT=$DRAIN_STARTED_AT" "RF_DRAIN_DEADLINE=$DRAIN_DEADLINE" \
    "RF_DRAIN_HOOK=$DRAIN_HOOK" "RF_DRAIN_SPOT=$DRAIN_SPOT" "RF_DRAIN_NOTICE_AT=$DRAIN_NOTICE_AT" \
    "RF_DRAIN_UNREGISTERED=$DRAIN_UNREGISTERED" "RF_DRAIN_COMPLETED=$DRAIN_COMPLETED" \
    "RF_DRAIN_PHASE=$DRAIN_PHASE" >"$tmp" && mv -f "$tmp" "$RF_DRAIN_STATE_FILE"; then
    return 0
  fi
  log_warn "cannot write the drain state to $RF_DRAIN_STATE_FILE; a restarted agent could not resume this drain"
}

# drain_state_load: read RF_DRAIN_STATE_FILE into the drain's globals; fails
# when there is none, it is unreadable, or it belongs to another instance
# (a state directory baked into an AMI). Values are taken verbatim, never
# evaluated; numbers are checked.
drain_state_load() {
  local line key value instance=""
  [[ -r "$RF_DRAIN_STATE_FILE" ]] || return 1
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^RF_DRAIN_([A-Z_]+)=(.*)$ ]] || continue
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    case "$key" in
      INSTANCE_ID) instance="$value" ;;
      REASON) DRAIN_REASON="$value" ;;
      STARTED_AT) DRAIN_STARTED_AT="$value" ;;
      DEADLINE) DRAIN_DEADLINE="$value" ;;
      HOOK) DRAIN_HOOK="$value" ;;
      SPOT) DRAIN_SPOT="$value" ;;
      NOTICE_AT) DRAIN_NOTICE_AT="$value" ;;
      UNREGISTERED) DRAIN_UNREGISTERED="$value" ;;
      COMPLETED) DRAIN_COMPLETED="$value" ;;
      PHASE) DRAIN_PHASE="$value" ;;
    esac
  done <"$RF_DRAIN_STATE_FILE"
  if [[ "$instance" != "$RF_INSTANCE_ID" ]]; then
    log_warn "ignoring $RF_DRAIN_STATE_FILE: it belongs to instance '$instance', not $RF_INSTANCE_ID"
    return 1
  fi
  local n
  for n in "$DRAIN_STARTED_AT" "$DRAIN_DEADLINE" "$DRAIN_NOTICE_AT" "$DRAIN_UNREGISTERED" "$DRAIN_COMPLETED"; do
    [[ "$n" =~ ^[0-9]+$ ]] || {
      log_warn "ignoring $RF_DRAIN_STATE_FILE: not a number where one belongs ('$n')"
      return 1
    }
  done
  [[ "$DRAIN_PHASE" == draining || "$DRAIN_PHASE" == finished ]] || {
    log_warn "ignoring $RF_DRAIN_STATE_FILE: unknown phase '$DRAIN_PHASE'"
    return 1
  }
}

# drain_apply_spot JSON: a spot notice moves the deadline to spot_deadline
# (never later than the one the drain has) and fixes the reclaim time once,
# so a resumed drain keeps it even for a notice without a usable time.
drain_apply_spot() {
  local notice spot_jobs_deadline
  notice="$(spot_notice_epoch "$1")"
  spot_jobs_deadline="$(spot_deadline "$notice")"
  DRAIN_SPOT="$1"
  DRAIN_NOTICE_AT="$notice"
  if ((DRAIN_DEADLINE == 0 || spot_jobs_deadline < DRAIN_DEADLINE)); then
    DRAIN_DEADLINE="$spot_jobs_deadline"
  fi
}

# drain_begin REASON DEADLINE HOOK [SPOT_NOTICE_JSON]: a new drain. Its state
# is written before the runner is touched, so a restart at any point resumes it.
drain_begin() {
  DRAIN_REASON="$1" DRAIN_DEADLINE="$2" DRAIN_HOOK="$3" DRAIN_SPOT="" DRAIN_NOTICE_AT=0
  DRAIN_UNREGISTERED=0 DRAIN_COMPLETED=0 DRAIN_PHASE=draining DRAIN_RESUMED=0
  DRAIN_STARTED_AT="$(now_epoch)"
  [[ -z "${4:-}" ]] || drain_apply_spot "$4"
  drain_state_save
  agent_drain
}

# agent_drain: the drain the DRAIN_* globals describe, new or resumed. From
# here on the lifecycle action is completed on every way out: the normal end
# (drain_finish) and any failure (the EXIT trap, as lifecycled's defer). A
# stop by signal is not the drain's end: the state stays for a restarted
# agent, which resumes it (systemd Restart=on-failure).
agent_drain() {
  RF_CURRENT_STEP=drain
  _drain_running=1
  trap _drain_on_exit EXIT
  trap '_drain_on_signal TERM 143' TERM
  trap '_drain_on_signal INT 130' INT
  trap '_drain_on_signal HUP 129' HUP
  log_info "draining ($DRAIN_REASON): up to $((DRAIN_DEADLINE - $(now_epoch)))s for running jobs"
  runner_drain_begin || log_error "could not stop $RF_RUNNER_SERVICE gracefully"
  drain_wait_for_runner
  drain_finish
}

# drain_heartbeat_if_due: heartbeat the drain's hook when the interval has
# passed; also called during the forced stop's wait, which can outlast a
# short heartbeat timeout (30 s is allowed, the wait is 45 s).
_next_heartbeat=0
drain_heartbeat_if_due() {
  [[ -n "$DRAIN_HOOK" ]] || return 0
  (($(now_epoch) >= _next_heartbeat)) || return 0
  lifecycle_heartbeat "$DRAIN_HOOK" || true
  _next_heartbeat=$(($(now_epoch) + RF_HEARTBEAT_INTERVAL_SECONDS))
}

# drain_wait_for_runner: wait while the runner's main process lives (it exits
# once its jobs end), heartbeating the hook, watching for a spot notice, and
# forcing the stop at the deadline. The first checks come fast (an idle
# runner exits within a fraction of a second), then every
# RF_WATCH_INTERVAL_SECONDS.
drain_wait_for_runner() {
  local now max_wait pause_ms=100 max_pause_ms=$((RF_WATCH_INTERVAL_SECONDS * 1000))
  _next_heartbeat=$(($(now_epoch) + RF_HEARTBEAT_INTERVAL_SECONDS))
  # A resumed drain heartbeats at once: the restart may have cost one.
  ((DRAIN_RESUMED == 0)) || _next_heartbeat=0
  while runner_main_running; do
    if [[ -z "$DRAIN_SPOT" ]] && spot_notice_pending; then
      drain_apply_spot "$SPOT_NOTICE"
      drain_state_save
      log_warn "spot interruption notice during the drain ($DRAIN_REASON): $SPOT_NOTICE; jobs now end within $((DRAIN_DEADLINE - $(now_epoch)))s"
    fi
    now="$(now_epoch)"
    if ((now >= DRAIN_DEADLINE)); then
      log_warn "jobs still running at the drain deadline ($DRAIN_REASON)"
      max_wait="$RF_FORCED_STOP_WAIT_SECONDS"
      if ((DRAIN_NOTICE_AT > 0)); then
        max_wait=$((DRAIN_NOTICE_AT - RF_SPOT_UNREGISTER_RESERVE_SECONDS - now))
        ((max_wait >= 0)) || max_wait=0
      fi
      runner_force_stop "$max_wait" drain_heartbeat_if_due
      return 0
    fi
    drain_heartbeat_if_due
    sleep "$((pause_ms / 1000)).$(printf '%03d' $((pause_ms % 1000)))"
    pause_ms=$((pause_ms * 2))
    ((pause_ms <= max_pause_ms)) || pause_ms="$max_pause_ms"
  done
  log_info "runner main process exited ($RF_RUNNER_ACTIVE_STATE/$RF_RUNNER_SUB_STATE)"
}

# drain_unregister: once per drain, bounded by RF_UNREGISTER_TIMEOUT_SECONDS
# and, after a spot notice, by the time left before the reclaim.
drain_unregister() {
  ((DRAIN_UNREGISTERED == 0)) || return 0
  local bound="$RF_UNREGISTER_TIMEOUT_SECONDS" left
  RF_CURRENT_STEP=unregister
  if ((DRAIN_NOTICE_AT > 0)); then
    left=$((DRAIN_NOTICE_AT - $(now_epoch)))
    ((left >= bound)) || bound="$left"
  fi
  runner_unregister "$bound" || log_error "unregister failed; GitLab removes the stale runner manager after 7 days"
  DRAIN_UNREGISTERED=1
  drain_state_save
}

# drain_complete_once: CONTINUE the drain's lifecycle action, at most once
# per drain (the flag is set before the call, so the EXIT trap cannot repeat
# it). A spot drain has no hook of its own; if the group has meanwhile moved
# the instance to Terminated, its terminate action is the one completed.
drain_complete_once() {
  ((DRAIN_COMPLETED == 0)) || return 0
  DRAIN_COMPLETED=1
  local hook="$DRAIN_HOOK"
  if [[ -z "$hook" ]] && imds_lifecycle_state && [[ "$IMDS_VALUE" == Terminated ]]; then
    hook="${RF_TERMINATE_HOOK:-}"
  fi
  if [[ -n "$hook" ]]; then
    RF_CURRENT_STEP=complete
    lifecycle_complete "$hook" CONTINUE || true
  fi
  drain_state_save
}

drain_finish() {
  drain_unregister
  drain_complete_once
  DRAIN_PHASE=finished
  drain_state_save
  _drain_running=0
  trap - EXIT TERM INT HUP
  log_info "drain finished ($DRAIN_REASON) after $(($(now_epoch) - DRAIN_STARTED_AT))s"
}

# _drain_on_exit: the agent is leaving mid-drain through a failure (a
# command that failed under set -e, an expansion error, die). Jobs still
# running are ended the reported way (forced stop: GitLab marks them
# runner_interrupted) rather than left to die with the instance; then
# unregister and CONTINUE, each only if not done yet.
_drain_on_exit() {
  local status=$?
  ((_drain_running)) || return 0
  _drain_running=0
  trap - ERR EXIT TERM INT HUP
  set +e
  RF_CURRENT_STEP=drain-failed
  log_error "the drain ($DRAIN_REASON) failed (exit $status); ending it now: forced stop if jobs run, unregister, CONTINUE"
  if runner_main_running; then
    local max_wait="$RF_FORCED_STOP_WAIT_SECONDS"
    ((DRAIN_NOTICE_AT == 0)) || max_wait=$((DRAIN_NOTICE_AT - RF_SPOT_UNREGISTER_RESERVE_SECONDS - $(now_epoch)))
    ((max_wait >= 0)) || max_wait=0
    runner_force_stop "$max_wait"
  fi
  drain_unregister
  drain_complete_once
  DRAIN_PHASE=finished
  drain_state_save
  ((status != 0)) || status=1
  exit "$status"
}

# _drain_on_signal NAME STATUS: systemd (or an operator) stops the agent
# mid-drain. The drain is not over: its state stays, a restarted agent
# resumes it with the same deadline, so nothing is completed here.
_drain_on_signal() {
  _drain_running=0
  trap - EXIT
  log_warn "stopped by SIG$1 during the drain ($DRAIN_REASON); a restarted agent resumes it from $RF_DRAIN_STATE_FILE ($((DRAIN_DEADLINE - $(now_epoch)))s left before its deadline)"
  exit "$2"
}

# drain_resume: the agent (re)starts with a drain on record. A finished one
# leaves nothing to do; an unfinished one goes on, never starting the runner.
drain_resume() {
  if [[ "$DRAIN_PHASE" == finished ]]; then
    log_info "the drain ($DRAIN_REASON) begun at $(date -u -d "@$DRAIN_STARTED_AT" +%Y-%m-%dT%H:%M:%SZ) has finished; nothing to do"
    return 0
  fi
  DRAIN_RESUMED=1
  log_warn "resuming the drain ($DRAIN_REASON) begun $(($(now_epoch) - DRAIN_STARTED_AT))s ago; deadline in $((DRAIN_DEADLINE - $(now_epoch)))s"
  agent_drain
}

# spot_notice_pending: set SPOT_NOTICE to the spot/instance-action JSON when it
# announces an interruption (terminate, stop, hibernate); fail otherwise (404 =
# none). Runs in the caller's shell, like imds_get.
SPOT_NOTICE=""
spot_notice_pending() {
  SPOT_NOTICE=""
  imds_spot_action || return 1
  [[ "$IMDS_VALUE" == *terminate* || "$IMDS_VALUE" == *stop* || "$IMDS_VALUE" == *hibernate* ]] || return 1
  SPOT_NOTICE="${IMDS_VALUE//[$'\r\n']/ }"
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

# spot_deadline NOTICE_EPOCH: epoch by which running jobs must be stopped:
# notice time minus the unregister reserve minus the forced stop's wait, so
# SIGTERM, the wait for the runner to report aborted jobs and the unregister
# all end before the reclaim.
spot_deadline() {
  echo $(($1 - RF_SPOT_UNREGISTER_RESERVE_SECONDS - RF_FORCED_STOP_WAIT_SECONDS))
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

# metrics_publish_background BUSY CONCURRENT: put-metric-data (an AWS CLI
# start, about a second) off the watch loop, so it never delays seeing a
# lifecycle transition; a publish still running skips this one.
_metrics_pid=""
metrics_publish_background() {
  if [[ -n "$_metrics_pid" ]] && kill -0 "$_metrics_pid" 2>/dev/null; then
    log_warn "previous put-metric-data still running; skipping this one"
    return 0
  fi
  (metrics_publish "$1" "$2" || log_warn "put-metric-data failed") &
  _metrics_pid=$!
}

# runner_poll: the slower half of the watch: rebalance recommendation, busy
# slots (scale-in protection) and the fleet's metrics.
_rebalance_seen=""
_next_metrics=0
runner_poll() {
  local busy concurrent
  if [[ -z "$_rebalance_seen" ]] && imds_rebalance; then
    _rebalance_seen="$IMDS_VALUE"
    log_warn "rebalance recommendation $_rebalance_seen: capacity rebalancing replaces this instance through the normal drain"
  fi
  if busy="$(runner_busy_jobs)"; then
    protection_update "$busy"
    if (($(now_epoch) >= _next_metrics)); then
      concurrent="$(runner_metric gitlab_runner_concurrent)" || concurrent=0
      ((concurrent > 0)) || concurrent="$RF_CONCURRENT"
      metrics_publish_background "$busy" "$concurrent"
      _next_metrics=$(($(now_epoch) + RF_METRICS_INTERVAL_SECONDS))
    fi
  else
    log_warn "runner metrics at $RF_RUNNER_METRICS_URL unavailable"
  fi
  # The SSM read takes the AWS CLI's start-up time: in the background, so the
  # 1 s lifecycle watch keeps its tick; the timer stays in this shell.
  if token_watch_due; then (token_sync || log_warn "runner token watch failed; retrying next check") & fi
}

agent_main() {
  mkdir -p "$RF_LOG_DIR"
  RF_CURRENT_STEP=start
  rf_load_env "$RF_ENV_FILE"
  fleet_settings
  # fleet_identity returns 1 (logged) when IMDS is unwell: retry until it answers.
  until fleet_identity; do sleep "$RF_WATCH_INTERVAL_SECONDS"; done
  if drain_state_load; then
    drain_resume
    return 0
  fi
  log_info "watching IMDS at $RF_IMDS_ENDPOINT for $RF_INSTANCE_ID in $RF_ASG_NAME (every ${RF_WATCH_INTERVAL_SECONDS}s; runner every ${RF_POLL_INTERVAL_SECONDS}s)"
  local next_poll=0 now tick_us wait_us
  tick_us="${EPOCHREALTIME/./}"
  while true; do
    RF_CURRENT_STEP=watch
    _imds_refresh_token || true
    if spot_notice_pending; then
      log_warn "spot interruption notice: $SPOT_NOTICE"
      drain_begin "spot interruption" 0 "" "$SPOT_NOTICE"
      return 0
    fi
    if imds_lifecycle_state && [[ "$IMDS_VALUE" == Terminated ]]; then
      drain_begin "lifecycle transition to Terminated" "$(($(now_epoch) + RF_MAX_DRAIN_SECONDS))" "${RF_TERMINATE_HOOK:-}"
      return 0
    fi
    now="$(now_epoch)"
    if ((now >= next_poll)); then
      runner_poll
      next_poll=$((now + RF_POLL_INTERVAL_SECONDS))
    fi
    # Reads start every RF_WATCH_INTERVAL_SECONDS whatever this round took,
    # so a transition is seen at most one interval (plus one read) late.
    tick_us=$((tick_us + RF_WATCH_INTERVAL_SECONDS * 1000000))
    wait_us=$((tick_us - ${EPOCHREALTIME/./}))
    if ((wait_us > 0)); then
      sleep "$((wait_us / 1000000)).$(printf '%06d' $((wait_us % 1000000)))"
    else
      tick_us="${EPOCHREALTIME/./}"
    fi
  done
}

# Sourced (tests), it only defines the functions.
[[ "${BASH_SOURCE[0]}" != "$0" ]] || agent_main "$@"

#!/usr/bin/env bats
# Every way a drain can go, with a systemctl stub that keeps systemd's states
# (helpers/stub.sh: a SIGQUIT stop with jobs running leaves the unit
# `deactivating` and `is-active` exiting 3): the busy drain, the deadline,
# a GitLab that does not answer the unregister, a crash of the agent, a
# restart of the agent, an IMDS token reset and a spot notice mid-drain.
# Each of these failed on the scripts before the fix (RF_TEST_LINUX_DIR in
# helpers/common.bash runs them against another copy).

# shellcheck disable=SC2030,SC2031 # per-test exports of the timeouts, on purpose
load helpers/common
bats_require_minimum_version 1.5.0

setup() { fleet_setup; }
teardown() { fleet_teardown; }

# drain_state KEY: a value from the agent's drain state file.
drain_state() { sed -n "s/^RF_DRAIN_$1=//p" "$RF_STATE_DIR/drain.state"; }

# wait_for_log PATTERN SECONDS: a line of the agent's log matching PATTERN.
wait_for_log() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    grep -qE -e "$1" "$RF_LOG_DIR/lifecycle-agent.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no log line matching /$1/ within $2 s" >&2
  cat "$RF_LOG_DIR/lifecycle-agent.log" >&2
  return 1
}

imds_stats() { curl -fsS "$IMDS_URL/_control/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# scale_in: the group moves this busy or idle instance to Terminating:Wait.
scale_in() {
  wait_for_call 'set-instance-protection' 10
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_call '^systemctl stop --no-block gitlab-runner.service' 10
}

@test "busy drain: while systemd says deactivating (is-active exits 3) the drain waits for the job and heartbeats" {
  registered_instance
  set_jobs 1
  start_agent
  scale_in
  # The stub answers as systemd does while the runner finishes its job.
  run systemctl is-active gitlab-runner.service
  [ "$status" -eq 3 ]
  [ "$output" = deactivating ]
  run systemctl show -p ActiveState,SubState,MainPID gitlab-runner.service
  [[ "$output" == *"ActiveState=deactivating"* && "$output" == *"SubState=stop-sigterm"* ]]
  [[ "$output" =~ MainPID=[1-9] ]]
  sleep 4
  kill -0 "$AGENT_PID"
  [ "$(count_calls '^gitlab-runner unregister')" -eq 0 ]
  [ "$(count_calls 'complete-lifecycle-action')" -eq 0 ]
  mark job-ended
  set_jobs 0
  wait_for_agent 15
  [ "$AGENT_STATUS" -eq 0 ]
  ended=$(line_of '^EVENT job-ended')
  heartbeats=$(head -n "$ended" "$STUB_LOG" | grep -c 'record-lifecycle-action-heartbeat --lifecycle-hook-name runner-fleet-terminate')
  echo "heartbeats before the job ended: $heartbeats"
  [ "$heartbeats" -ge 2 ]
  [ "$(line_of '^gitlab-runner unregister')" -gt "$ended" ]
  [ "$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')" -gt "$(line_of '^gitlab-runner unregister')" ]
  [ "$(count_calls 'complete-lifecycle-action')" -eq 1 ]
  [ "$(count_calls 'SIGTERM')" -eq 0 ]
  [ "$(drain_state PHASE)" = finished ]
}

@test "drain deadline: SIGTERM to the main process, then the drain waits for it to exit, heartbeating, before unregistering" {
  write_env RF_MAX_DRAIN_SECONDS=3
  export RF_FORCED_STOP_WAIT_SECONDS=8
  # The runner needs 3 s after SIGTERM to abort its job and report it.
  echo 3 >"$STUB_DIR/sigterm-exit-seconds"
  registered_instance
  set_jobs 1
  start_agent
  scale_in
  wait_for_agent 30
  sigterm_at=$(cat "$STUB_DIR/sigterm-at")
  unregistered_at=$(cat "$STUB_DIR/unregistered-at")
  echo "sigterm_at=$sigterm_at unregistered_at=$unregistered_at"
  [ "$(count_calls '^systemctl kill --kill-whom=main --signal=SIGTERM gitlab-runner.service')" -eq 1 ]
  [ "$unregistered_at" -ge $((sigterm_at + 3)) ]
  # The hook is heartbeated during that wait too (a 30 s heartbeat timeout is
  # shorter than the 45 s forced wait).
  kill=$(line_of '^systemctl kill')
  unregister=$(line_of '^gitlab-runner unregister')
  during=$(sed -n "${kill},${unregister}p" "$STUB_LOG" | grep -c 'record-lifecycle-action-heartbeat' || true)
  echo "heartbeats during the forced wait: $during"
  [ "$during" -ge 2 ]
  [ "$unregistered_at" -le $((sigterm_at + 5)) ]
  [ "$(line_of 'complete-lifecycle-action .*CONTINUE')" -gt "$(line_of '^gitlab-runner unregister')" ]
  grep -q 'main process exited after SIGTERM' "$RF_LOG_DIR/lifecycle-agent.log"
}

@test "GitLab not answering the unregister: it is stopped after RF_UNREGISTER_TIMEOUT_SECONDS and the action completed" {
  export RF_UNREGISTER_TIMEOUT_SECONDS=2
  echo 120 >"$STUB_DIR/unregister-hang-seconds"
  registered_instance
  start_agent
  scale_in
  started=$(date +%s)
  wait_for_agent 15
  done_at=$(date +%s)
  echo "drain took $((done_at - started))s"
  [ "$(count_calls 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')" -eq 1 ]
  [ $((done_at - started)) -le 8 ]
  grep -q 'ERROR .*unregister did not finish within 2s' "$RF_LOG_DIR/lifecycle-agent.log"
  # The hung unregister is gone, not left running.
  run ! pgrep -f "$STUB_DIR.*unregister|gitlab-runner unregister --config $RF_RUNNER_CONFIG_DIR"
}

@test "the agent crashes mid-drain: the trap ends the jobs the reported way, unregisters and completes CONTINUE once" {
  write_env RF_MAX_DRAIN_SECONDS=600
  registered_instance
  set_jobs 1
  # A bug in the drain: an unset variable under set -u at the first heartbeat.
  cat >"$T/crashing-agent.sh" <<AGENT
#!/usr/bin/env bash
set -Eeuo pipefail
. "$LINUX_DIR/lifecycle-agent.sh"
lifecycle_heartbeat() { echo "\$undefined_in_heartbeat"; }
agent_main
AGENT
  chmod +x "$T/crashing-agent.sh"
  "$T/crashing-agent.sh" >>"$T/agent.out" 2>&1 &
  AGENT_PID=$!
  scale_in
  wait_for_agent 20
  echo "exit status $AGENT_STATUS"
  [ "$AGENT_STATUS" -ne 0 ]
  kill=$(line_of '^systemctl kill --kill-whom=main --signal=SIGTERM gitlab-runner.service')
  unregister=$(line_of '^gitlab-runner unregister')
  complete=$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')
  echo "kill=$kill unregister=$unregister complete=$complete"
  [ "$kill" -gt 0 ]
  [ "$unregister" -gt "$kill" ]
  [ "$complete" -gt "$unregister" ]
  [ "$(count_calls 'complete-lifecycle-action')" -eq 1 ]
  grep -q 'ERROR .*the drain (lifecycle transition to Terminated) failed' "$RF_LOG_DIR/lifecycle-agent.log"
  # systemd restarts a crashed agent: it finds the drain finished and does nothing.
  : >"$STUB_LOG"
  start_agent
  wait_for_agent 10
  [ "$AGENT_STATUS" -eq 0 ]
  [ "$(count_calls 'complete-lifecycle-action|^systemctl (stop|start|restart|kill)|^gitlab-runner')" -eq 0 ]
}

@test "the agent killed mid-drain and restarted resumes the same drain and deadline, and never starts the runner" {
  write_env RF_MAX_DRAIN_SECONDS=600
  registered_instance
  set_jobs 1
  start_agent
  scale_in
  wait_for_call 'record-lifecycle-action-heartbeat' 5
  deadline=$(drain_state DEADLINE)
  [ "$(drain_state PHASE)" = draining ]
  kill -KILL "$AGENT_PID"
  wait "$AGENT_PID" || true
  AGENT_PID=""
  heartbeats_before=$(count_calls 'record-lifecycle-action-heartbeat')
  mark restarted
  sleep 2
  start_agent
  wait_for_log 'WARN .*resuming the drain \(lifecycle transition to Terminated\)' 10
  sleep 2
  kill -0 "$AGENT_PID"
  [ "$(drain_state DEADLINE)" = "$deadline" ]
  [ "$(count_calls 'record-lifecycle-action-heartbeat')" -gt "$heartbeats_before" ]
  [ "$(unit_active_state gitlab-runner.service)" = deactivating ]
  set_jobs 0
  wait_for_agent 15
  [ "$AGENT_STATUS" -eq 0 ]
  [ "$(count_calls '^systemctl (start|restart) ')" -eq 0 ]
  [ "$(count_calls 'complete-lifecycle-action')" -eq 1 ]
  [ "$(count_calls '^gitlab-runner unregister')" -eq 1 ]
  [ "$(line_of 'complete-lifecycle-action .*CONTINUE')" -gt "$(line_of '^EVENT restarted')" ]
}

@test "an IMDS token reset (401) costs one refused read and one new token, not one per read" {
  registered_instance
  start_agent
  wait_for_call 'set-instance-protection' 10
  sleep 1
  unauthorized_before=$(imds_stats unauthorized)
  tokens_before=$(imds_stats tokens)
  imds_set '{"revoke_tokens":true}'
  # Several watch rounds, each with a few metadata reads.
  sleep 5
  kill -0 "$AGENT_PID"
  unauthorized=$(($(imds_stats unauthorized) - unauthorized_before))
  tokens=$(($(imds_stats tokens) - tokens_before))
  echo "after the reset: $unauthorized refused reads, $tokens new tokens"
  [ "$unauthorized" -eq 1 ]
  [ "$tokens" -eq 1 ]
  run ! grep -q 'failed (attempt' "$RF_LOG_DIR/lifecycle-agent.log"
  # And the agent still drains on the new token.
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_agent 15
  [ "$(count_calls 'complete-lifecycle-action .*CONTINUE')" -eq 1 ]
}

# spot_time EPOCH: the notice's time field as IMDS writes it.
spot_time() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

@test "spot notice during a busy terminate drain: SIGTERM by the spot deadline, the runner's exit awaited, unregister before the reclaim" {
  write_env RF_MAX_DRAIN_SECONDS=600
  export RF_SPOT_UNREGISTER_RESERVE_SECONDS=3 RF_FORCED_STOP_WAIT_SECONDS=4
  echo 2 >"$STUB_DIR/sigterm-exit-seconds"
  registered_instance
  set_jobs 1
  start_agent
  scale_in
  wait_for_call 'record-lifecycle-action-heartbeat --lifecycle-hook-name runner-fleet-terminate' 5
  reclaim=$(($(date +%s) + 12))
  imds_set "{\"spot_action\":{\"action\":\"terminate\",\"time\":\"$(spot_time "$reclaim")\"}}"
  wait_for_agent 25
  sigterm_at=$(cat "$STUB_DIR/sigterm-at")
  unregistered_at=$(cat "$STUB_DIR/unregistered-at")
  echo "reclaim=$reclaim sigterm_at=$sigterm_at unregistered_at=$unregistered_at"
  grep -q 'spot interruption notice during the drain' "$RF_LOG_DIR/lifecycle-agent.log"
  [ "$(drain_state NOTICE_AT)" = "$reclaim" ]
  # SIGTERM at reclaim - reserve - forced wait (1 s clock granularity) ...
  [ "$sigterm_at" -le $((reclaim - 3 - 4 + 1)) ]
  # ... the runner's 2 s to report the aborted job are awaited ...
  [ "$unregistered_at" -ge $((sigterm_at + 2)) ]
  # ... and the unregister starts by reclaim - reserve.
  [ "$unregistered_at" -le $((reclaim - 3 + 1)) ]
  [ "$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')" -gt "$(line_of '^gitlab-runner unregister')" ]
  [ "$(count_calls 'complete-lifecycle-action')" -eq 1 ]
}

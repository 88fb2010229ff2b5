#!/usr/bin/env bats
# Scale-in and spot drains of the lifecycle agent against the IMDS double.

# shellcheck disable=SC2030,SC2031 # per-test exports of the timeouts, on purpose
load helpers/common
bats_require_minimum_version 1.5.0

setup() { fleet_setup; }
teardown() { fleet_teardown; }

@test "scale-in with an idle runner: SIGQUIT stop, unregister, CONTINUE, in that order" {
  registered_instance
  start_agent
  wait_for_call 'set-instance-protection' 10
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_agent 20
  [ "$AGENT_STATUS" -eq 0 ]
  grep -qx 'KillSignal=SIGQUIT' "$RF_SYSTEMD_DIR/gitlab-runner.service.d/10-runner-fleet-drain.conf"
  stop=$(line_of '^systemctl stop --no-block gitlab-runner.service')
  unregister=$(line_of '^gitlab-runner unregister .*--all-runners')
  complete=$(line_of 'complete-lifecycle-action --lifecycle-hook-name runner-fleet-terminate .*--instance-id i-0123456789abcdef0 --lifecycle-action-result CONTINUE')
  echo "stop=$stop unregister=$unregister complete=$complete"
  [ "$stop" -gt 0 ]
  [ "$unregister" -gt "$stop" ]
  [ "$complete" -gt "$unregister" ]
  [ "$(count_calls 'SIGTERM')" -eq 0 ]
  [ "$(count_calls 'complete-lifecycle-action')" -eq 1 ]
}

@test "scale-in during a job longer than a heartbeat interval: heartbeats, then CONTINUE after the job" {
  registered_instance
  set_jobs 1
  start_agent
  wait_for_call 'set-instance-protection' 10
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_call '^systemctl stop' 10
  (sleep 4; mark job-ended; set_jobs 0) &
  # shellcheck disable=SC2034 # killed by fleet_teardown
  JOB_PID=$!
  wait_for_agent 30
  ended=$(line_of '^EVENT job-ended')
  complete=$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')
  heartbeats_before_end=$(head -n "$ended" "$STUB_LOG" | grep -c 'record-lifecycle-action-heartbeat --lifecycle-hook-name runner-fleet-terminate')
  echo "ended=$ended complete=$complete heartbeats=$heartbeats_before_end"
  [ "$heartbeats_before_end" -ge 2 ]
  [ "$complete" -gt "$ended" ]
  [ "$(count_calls 'SIGTERM')" -eq 0 ]
}

@test "a job that outlives the maximum drain time: forced stop, and the action is still completed" {
  write_env RF_MAX_DRAIN_SECONDS=3
  registered_instance
  set_jobs 1
  start_agent
  wait_for_call 'set-instance-protection' 10
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_agent 30
  # SIGTERM to the runner's main process only: it aborts and reports the jobs itself.
  kill=$(line_of '^systemctl kill --kill-whom=main --signal=SIGTERM gitlab-runner.service')
  complete=$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')
  [ "$kill" -gt 0 ]
  [ "$complete" -gt "$kill" ]
  grep -q 'jobs still running at the drain deadline' "$RF_LOG_DIR/lifecycle-agent.log"
}

@test "unregister fails: the action is still completed and the failure is logged" {
  registered_instance
  touch "$STUB_DIR/unregister-fail"
  start_agent
  wait_for_call 'set-instance-protection' 10
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_agent 20
  [ "$(line_of 'complete-lifecycle-action .*CONTINUE')" -gt "$(line_of '^gitlab-runner unregister')" ]
  grep -q 'ERROR .*unregister failed' "$RF_LOG_DIR/lifecycle-agent.log"
}

# spot_time EPOCH: the notice's time field as IMDS writes it.
spot_time() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

@test "spot notice: no new jobs at once; SIGTERM early enough that the forced wait and unregister end before the reclaim" {
  # Production proportions scaled down ~1:9: notice 120 s -> 14 s, reserve
  # 20 s -> 2 s, forced-stop wait 45 s -> 5 s. The runner uses the whole
  # forced wait (it never exits in time after SIGTERM) and the job never ends.
  export RF_SPOT_UNREGISTER_RESERVE_SECONDS=2 RF_FORCED_STOP_WAIT_SECONDS=5
  echo 60 >"$STUB_DIR/sigterm-exit-seconds"
  registered_instance
  set_jobs 1
  start_agent
  wait_for_call 'set-instance-protection' 10
  reclaim=$(($(date +%s) + 14))
  imds_set "{\"spot_action\":{\"action\":\"terminate\",\"time\":\"$(spot_time "$reclaim")\"}}"
  noticed=$(date +%s)
  wait_for_call '^systemctl stop --no-block gitlab-runner.service' 5
  [ $(($(date +%s) - noticed)) -le 3 ]
  wait_for_agent 25
  sigterm_at=$(cat "$STUB_DIR/sigterm-at")
  unregistered_at=$(cat "$STUB_DIR/unregistered-at")
  echo "reclaim=$reclaim sigterm_at=$sigterm_at unregistered_at=$unregistered_at"
  # SIGTERM at reclaim - reserve - forced wait (one poll of slack) ...
  [ "$sigterm_at" -le $((reclaim - 2 - 5 + 1)) ]
  # ... so the unregister starts by reclaim - reserve (1 s clock granularity),
  # well before the reclaim.
  [ "$unregistered_at" -le $((reclaim - 2 + 1)) ]
  [ "$(line_of '^gitlab-runner unregister')" -gt "$(line_of '^systemctl kill')" ]
  run ! grep -q '^\[\[runners\]\]' "$RF_RUNNER_CONFIG_DIR/config.toml"
  [ "$(count_calls 'complete-lifecycle-action')" -eq 0 ]
}

@test "a spot notice during a scale-in drain shortens the deadline to the spot deadline" {
  write_env RF_MAX_DRAIN_SECONDS=600
  export RF_SPOT_UNREGISTER_RESERVE_SECONDS=2 RF_FORCED_STOP_WAIT_SECONDS=3
  registered_instance
  set_jobs 1
  start_agent
  wait_for_call 'set-instance-protection' 10
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_call '^systemctl stop --no-block gitlab-runner.service' 10
  wait_for_call 'record-lifecycle-action-heartbeat --lifecycle-hook-name runner-fleet-terminate' 5
  reclaim=$(($(date +%s) + 10))
  imds_set "{\"spot_action\":{\"action\":\"terminate\",\"time\":\"$(spot_time "$reclaim")\"}}"
  wait_for_agent 20
  unregistered_at=$(cat "$STUB_DIR/unregistered-at")
  echo "reclaim=$reclaim unregistered_at=$unregistered_at"
  grep -q 'spot interruption notice during the drain' "$RF_LOG_DIR/lifecycle-agent.log"
  [ "$(count_calls '^systemctl kill --kill-whom=main --signal=SIGTERM gitlab-runner.service')" -eq 1 ]
  [ "$unregistered_at" -le $((reclaim - 2 + 1)) ]
  [ "$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')" -gt "$(line_of '^gitlab-runner unregister')" ]
}

@test "a spot notice without a time: the documented two minutes (scaled), not midnight" {
  export RF_SPOT_NOTICE_SECONDS=9 RF_SPOT_UNREGISTER_RESERVE_SECONDS=1 RF_FORCED_STOP_WAIT_SECONDS=2
  registered_instance
  set_jobs 1
  start_agent
  wait_for_call 'set-instance-protection' 10
  noticed=$(date +%s)
  imds_set '{"spot_action":{"action":"terminate","time":""}}'
  wait_for_agent 20
  sigterm_at=$(cat "$STUB_DIR/sigterm-at")
  echo "noticed=$noticed sigterm_at=$sigterm_at"
  # notice + 9 - 1 - 2 = 6 s after the notice; `date -d ""` (midnight) would SIGTERM at once.
  [ "$sigterm_at" -ge $((noticed + 4)) ]
  grep -q 'spot notice without a usable time' "$RF_LOG_DIR/lifecycle-agent.log"
}

@test "spot notice followed by the ASG's terminate transition: the terminate action is completed" {
  registered_instance
  start_agent
  wait_for_call 'set-instance-protection' 10
  imds_set "{\"lifecycle_state\":\"Terminated\",\"spot_action\":{\"action\":\"terminate\",\"time\":\"$(date -u -d '+60 sec' +%Y-%m-%dT%H:%M:%SZ)\"}}"
  wait_for_agent 15
  [ "$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')" -gt "$(line_of '^gitlab-runner unregister')" ]
}

# fleet_settings in a fresh bash with lib/common.sh alone (where the
# bootstrap and the agent both get it), with fleet.env's required keys: prints
# the effective RF_MAX_DRAIN_SECONDS on stdout; warnings go to stderr.
# shellcheck disable=SC2016 # the inner bash expands $0 and the result
drain_settings() {
  env RF_REGION=eu-west-1 RF_GITLAB_URL=https://gitlab.example.com RF_EXECUTOR=shell RF_CONCURRENT=4 \
    RF_TOKEN_SOURCE=ssm:/runner-fleet/test/token RF_METRICS_NAMESPACE=RunnerFleet \
    RF_HEARTBEAT_TIMEOUT="$1" RF_MAX_DRAIN_SECONDS="$2" \
    bash -c '. "$0/lib/common.sh"; fleet_settings; echo "$RF_MAX_DRAIN_SECONDS"' "$LINUX_DIR"
}

@test "a maximum drain beyond 100 x the heartbeat timeout is capped below it, with a warning" {
  run --separate-stderr drain_settings 30 10800
  [ "$status" -eq 0 ]
  [ "$output" = 2700 ]
  [[ "$stderr" == *"WARN"* ]]
  [[ "$stderr" == *"RF_MAX_DRAIN_SECONDS=10800 exceeds"* ]]
  [[ "$stderr" == *"draining at most 2700s"* ]]
}

@test "a maximum drain beyond 48 h is capped below 48 h even with a long heartbeat timeout" {
  run --separate-stderr drain_settings 7200 200000
  [ "$status" -eq 0 ]
  [ "$output" = 172500 ]
  [[ "$stderr" == *"draining at most 172500s"* ]]
}

@test "a maximum drain within the global timeout is kept, without a warning" {
  run --separate-stderr drain_settings 600 10800
  [ "$status" -eq 0 ]
  [ "$output" = 10800 ]
  [ -z "$stderr" ]
}

#!/usr/bin/env bats
# Scale-in and spot drains of the lifecycle agent against the IMDS double.

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
  [ "$stop" -gt 0 ] && [ "$unregister" -gt "$stop" ] && [ "$complete" -gt "$unregister" ]
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
  kill=$(line_of '^systemctl kill --signal=SIGTERM gitlab-runner.service')
  complete=$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')
  [ "$kill" -gt 0 ] && [ "$complete" -gt "$kill" ]
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

@test "spot notice: no new jobs at once, unregister before the two minutes are up" {
  registered_instance
  set_jobs 1
  export RF_SPOT_UNREGISTER_RESERVE_SECONDS=2
  start_agent
  wait_for_call 'set-instance-protection' 10
  deadline=$(($(date +%s) + 7))
  imds_set "{\"spot_action\":{\"action\":\"terminate\",\"time\":\"$(date -u -d "@$deadline" +%Y-%m-%dT%H:%M:%SZ)\"}}"
  noticed=$(date +%s)
  wait_for_call '^systemctl stop --no-block gitlab-runner.service' 5
  [ $(($(date +%s) - noticed)) -le 3 ]
  # The job never ends on its own: the agent must cut it at deadline - reserve.
  wait_for_agent 15
  [ "$(date +%s)" -le "$deadline" ]
  [ "$(line_of '^gitlab-runner unregister')" -gt "$(line_of '^systemctl stop')" ]
  run ! grep -q '^\[\[runners\]\]' "$RF_RUNNER_CONFIG_DIR/config.toml"
  [ "$(count_calls 'complete-lifecycle-action')" -eq 0 ]
}

@test "spot notice followed by the ASG's terminate transition: the terminate action is completed" {
  registered_instance
  start_agent
  wait_for_call 'set-instance-protection' 10
  imds_set "{\"lifecycle_state\":\"Terminated\",\"spot_action\":{\"action\":\"terminate\",\"time\":\"$(date -u -d '+60 sec' +%Y-%m-%dT%H:%M:%SZ)\"}}"
  wait_for_agent 15
  [ "$(line_of 'complete-lifecycle-action .*runner-fleet-terminate.*CONTINUE')" -gt "$(line_of '^gitlab-runner unregister')" ]
}

#!/usr/bin/env bats
# The lifecycle agent while in service: IMDS trouble, scale-in protection, metrics.

load helpers/common

setup() { fleet_setup; }
teardown() { fleet_teardown; }

@test "metadata service briefly failing and slow: retried, no crash, the drain still works" {
  registered_instance
  imds_set '{"fail_next":3}'
  start_agent
  wait_for_call 'set-instance-protection' 15
  # Slower than the client's max time (RF_IMDS_MAX_TIME_SECONDS=2) for a while, then 5xx.
  imds_set '{"delay_seconds":3}'
  sleep 4
  kill -0 "$AGENT_PID"
  imds_set '{"delay_seconds":0,"fail_next":2}'
  sleep 2
  kill -0 "$AGENT_PID"
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_agent 30
  [ "$AGENT_STATUS" -eq 0 ]
  [ "$(count_calls 'complete-lifecycle-action .*CONTINUE')" -eq 1 ]
  failures=$(curl -fsS "$IMDS_URL/_control/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failures"])')
  [ "$failures" -ge 5 ]
  grep -q 'WARN .*IMDS .* failed (attempt' "$RF_LOG_DIR/lifecycle-agent.log"
}

@test "scale-in protection is set while busy and cleared when idle, one API call per change" {
  registered_instance
  start_agent
  wait_for_call 'set-instance-protection .*--no-protected-from-scale-in' 10
  set_jobs 2
  wait_for_call 'set-instance-protection .* --protected-from-scale-in' 10
  sleep 3
  [ "$(count_calls ' --protected-from-scale-in')" -eq 1 ]
  set_jobs 0
  sleep 3
  [ "$(count_calls '--no-protected-from-scale-in')" -eq 2 ]
  [ "$(count_calls 'set-instance-protection')" -eq 3 ]
  grep -q 'set-instance-protection --instance-ids i-0123456789abcdef0 --auto-scaling-group-name runners-test-asg' "$STUB_LOG"
}

@test "slot and memory metrics are published in one call with the contract's names, unit and dimension" {
  registered_instance
  set_jobs 2
  start_agent
  wait_for_call 'JobSlotSaturation' 10
  line=$(grep -m1 'put-metric-data' "$STUB_LOG")
  echo "$line"
  [[ "$line" == *"--namespace RunnerFleet"* ]]
  [[ "$line" == *"MetricName=BusyJobSlots,Unit=Count,Value=2,Dimensions=[{Name=AutoScalingGroupName,Value=runners-test-asg}]"* ]]
  [[ "$line" == *"MetricName=ConcurrentJobSlots,Unit=Count,Value=4,"* ]]
  [[ "$line" == *"MetricName=JobSlotSaturation,Unit=Percent,Value=50,"* ]]
  # test/bats/fixtures/meminfo: (16207040 - 4100000) / 16207040 = 74.7 % (MemFree would give 93).
  [[ "$line" == *"MetricName=MemoryUtilization,Unit=Percent,Value=74,Dimensions=[{Name=AutoScalingGroupName,Value=runners-test-asg}]"* ]]
}

@test "unreadable meminfo: MemoryUtilization is left out with a warning, the slot metrics still go out" {
  registered_instance
  export RF_MEMINFO_FILE="$T/no-such-meminfo"
  start_agent
  wait_for_call 'JobSlotSaturation' 10
  line=$(grep -m1 'put-metric-data' "$STUB_LOG")
  echo "$line"
  [[ "$line" == *"MetricName=BusyJobSlots,Unit=Count,Value=0,"* ]]
  [[ "$line" != *"MemoryUtilization"* ]]
  grep -q "WARN .*cannot read MemTotal and MemAvailable from $T/no-such-meminfo" "$RF_LOG_DIR/lifecycle-agent.log"
}

@test "metadata service down when the agent starts: identity is retried, the agent keeps running" {
  registered_instance
  # More failures than one fleet_identity call retries (RF_RETRY_ATTEMPTS=4).
  imds_set '{"fail_next":6}'
  start_agent
  wait_for_call 'set-instance-protection' 30
  kill -0 "$AGENT_PID"
  grep -q 'cannot read instance-id from IMDS' "$RF_LOG_DIR/lifecycle-agent.log"
}

#!/usr/bin/env bats
# The lifecycle agent against AWS's own IMDS emulator (amazon-ec2-metadata-mock,
# installed by tools/setup.d/aemm.sh). AEMM v1.13.0 serves no instance tags,
# so the group name comes from RF_ASG_NAME here.

load helpers/common

AEMM_BIN="${AEMM_BIN:-$REPO_ROOT/.tools/bin/ec2-metadata-mock}"

setup() {
  if [[ ! -x "$AEMM_BIN" ]]; then
    skip "ec2-metadata-mock not installed at $AEMM_BIN (run tools/setup.sh)"
  fi
  fleet_setup
  kill "$IMDS_PID" && IMDS_PID=""
  AEMM_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  export AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$AEMM_PORT" RF_ASG_NAME=aemm-asg
  export HOME="$T" # AEMM looks for an optional config file in $HOME
}

teardown() {
  [[ -n "${AEMM_PID:-}" ]] && kill "$AEMM_PID" 2>/dev/null
  [[ -n "${T:-}" ]] && fleet_teardown
}

start_aemm() {
  "$AEMM_BIN" -p "$AEMM_PORT" -n 127.0.0.1 -I "$@" >"$T/aemm.out" 2>&1 &
  AEMM_PID=$!
  local _
  for _ in $(seq 1 50); do
    curl -fsS -o /dev/null -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
      "$AWS_EC2_METADATA_SERVICE_ENDPOINT/latest/api/token" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$T/aemm.out" >&2
  return 1
}

@test "AEMM asglifecycle: InService then Terminated drives a full drain and CONTINUE" {
  start_aemm asglifecycle --asg-termination-delay-sec 4
  registered_instance
  start_agent
  wait_for_agent 30
  cat "$T/agent.out"
  [ "$AGENT_STATUS" -eq 0 ]
  grep -q 'set-instance-protection --instance-ids i-1234567890abcdef0 --auto-scaling-group-name aemm-asg' "$STUB_LOG"
  [ "$(line_of 'complete-lifecycle-action .*runner-fleet-terminate .*--instance-id i-1234567890abcdef0 --lifecycle-action-result CONTINUE')" -gt "$(line_of '^gitlab-runner unregister')" ]
}

@test "AEMM spot: an interruption notice drains and unregisters" {
  start_aemm spot -a terminate -d 3
  registered_instance
  start_agent
  wait_for_agent 30
  cat "$T/agent.out"
  grep -q 'spot interruption notice' "$RF_LOG_DIR/lifecycle-agent.log"
  [ "$(line_of '^gitlab-runner unregister')" -gt "$(line_of '^systemctl stop --no-block gitlab-runner.service')" ]
}

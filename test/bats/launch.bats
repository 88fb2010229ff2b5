#!/usr/bin/env bats
# The launch bootstrap (shell.sh / docker.sh) against the IMDS double and stubs.

load helpers/common
bats_require_minimum_version 1.5.0

setup() { fleet_setup; }
teardown() { fleet_teardown; }

bootstrap() { run "$LINUX_DIR/${1:-shell}.sh"; }

@test "launch: patch, token from SSM, register, verify, start, then CONTINUE" {
  bootstrap shell
  echo "$output"
  [ "$status" -eq 0 ]
  patch=$(line_of '^dnf upgrade -y -q --refresh --security')
  ssm=$(line_of '^aws --region eu-west-1 ssm get-parameter --with-decryption --name /runner-fleet/test/token')
  register=$(line_of '^gitlab-runner register --non-interactive .*--url https://gitlab.example.com --name runners-test-i-0123456789abcdef0 --executor shell.*\[env CI_SERVER_TOKEN set\]')
  verify=$(line_of '^gitlab-runner verify')
  start=$(line_of '^systemctl start gitlab-runner.service')
  complete=$(line_of 'complete-lifecycle-action --lifecycle-hook-name runner-fleet-launch .*--lifecycle-action-result CONTINUE')
  echo "patch=$patch ssm=$ssm register=$register verify=$verify start=$start complete=$complete"
  [ "$patch" -gt 0 ] && [ "$ssm" -gt "$patch" ] && [ "$register" -gt "$ssm" ] && [ "$verify" -gt "$register" ]
  [ "$start" -gt "$verify" ] && [ "$complete" -gt "$start" ]
  [ "$(cat "$RF_RUNNER_CONFIG_DIR/.runner_system_id")" = s_56789abcdef0 ]
  [ "$(stat -c %a "$RF_RUNNER_CONFIG_DIR/config.toml")" = 600 ]
  [ "$(stat -c %a "$RF_RUNNER_CONFIG_DIR/.runner_system_id")" = 600 ]
  grep -q 'listen_address = "127.0.0.1:9252"' "$RF_RUNNER_CONFIG_DIR/config.toml"
  grep -q '^concurrent = 4' "$RF_RUNNER_CONFIG_DIR/config.toml"
  grep -q 'BucketName = "runners-test-cache"' "$RF_STATE_DIR/runner-template.toml"
  grep -qx 'KillSignal=SIGQUIT' "$RF_SYSTEMD_DIR/gitlab-runner.service.d/10-runner-fleet-drain.conf"
  [ -f "$RF_SYSTEMD_DIR/runner-fleet-lifecycle.service" ]
  grep -q '"log_group_name":"/runner-fleet/runners-test"' "$RF_CWAGENT_CONFIG_DIR/runner-fleet.json"
  [ "$(count_calls 'ABANDON')" -eq 0 ]
}

@test "launch with the docker executor: docker started, image passed to register" {
  write_env RF_EXECUTOR=docker RF_DOCKER_IMAGE=alpine:3.21
  bootstrap docker
  [ "$status" -eq 0 ]
  grep -q '^systemctl start docker.service' "$STUB_LOG"
  grep -q '^gitlab-runner register .*--executor docker --docker-image alpine:3.21' "$STUB_LOG"
  grep -q 'image = "alpine:3.21"' "$RF_STATE_DIR/runner-template.toml"
}

@test "launch with a bad token: ABANDON and a clear log line" {
  printf 'glrt-some-other-token' >"$STUB_DIR/valid-token"
  bootstrap shell
  [ "$status" -ne 0 ]
  grep -q 'complete-lifecycle-action --lifecycle-hook-name runner-fleet-launch .*ABANDON' "$STUB_LOG"
  [ "$(count_calls 'CONTINUE')" -eq 0 ]
  grep -q "ERROR step=register: gitlab-runner register failed" "$RF_LOG_DIR/bootstrap.log"
  grep -q "bootstrap failed at step 'register'" "$RF_LOG_DIR/bootstrap.log"
}

@test "launch with GitLab unreachable: ABANDON and a clear log line" {
  touch "$STUB_DIR/gitlab-unreachable"
  bootstrap shell
  [ "$status" -ne 0 ]
  grep -q 'runner-fleet-launch .*ABANDON' "$STUB_LOG"
  grep -q "is reachable" "$RF_LOG_DIR/bootstrap.log"
  [ "$(count_calls '^systemctl start gitlab-runner')" -eq 0 ]
}

@test "launch with an unreadable SSM parameter or a non-glrt token: ABANDON" {
  touch "$STUB_DIR/ssm-fail"
  bootstrap shell
  [ "$status" -ne 0 ]
  grep -q 'cannot read the runner token from SSM parameter /runner-fleet/test/token' "$RF_LOG_DIR/bootstrap.log"
  rm "$STUB_DIR/ssm-fail"
  printf 'not-a-glrt-token' >"$STUB_DIR/token"
  bootstrap shell
  [ "$status" -ne 0 ]
  grep -q 'is not a glrt- runner authentication token' "$RF_LOG_DIR/bootstrap.log"
  [ "$(count_calls 'ABANDON')" -eq 2 ]
}

@test "launch with a metadata service failing at first: retried, then in service" {
  imds_set '{"fail_next":3}'
  bootstrap shell
  [ "$status" -eq 0 ]
  grep -q 'runner-fleet-launch .*CONTINUE' "$STUB_LOG"
}

@test "patches that need a reboot: reboot once, resume unit, then finish after the reboot" {
  touch "$STUB_DIR/needs-reboot"
  bootstrap shell
  [ "$status" -eq 0 ]
  [ -f "$STUB_DIR/rebooted" ]
  grep -q "ExecStart=$LINUX_DIR/shell.sh" "$RF_SYSTEMD_DIR/runner-fleet-bootstrap-resume.service"
  grep -qE '^systemctl enable (--quiet )?runner-fleet-bootstrap-resume.service' "$STUB_LOG"
  grep -q 'record-lifecycle-action-heartbeat --lifecycle-hook-name runner-fleet-launch' "$STUB_LOG"
  [ "$(count_calls '^gitlab-runner register')" -eq 0 ]
  [ "$(count_calls 'complete-lifecycle-action')" -eq 0 ]
  mark rebooted
  bootstrap shell # what the resume unit runs after the reboot
  [ "$status" -eq 0 ]
  [ "$(count_calls '^dnf upgrade')" -eq 1 ]
  [ "$(count_calls '^systemctl reboot')" -eq 1 ]
  [ "$(line_of 'runner-fleet-launch .*CONTINUE')" -gt "$(line_of '^EVENT rebooted')" ]
  [ ! -f "$RF_SYSTEMD_DIR/runner-fleet-bootstrap-resume.service" ]
}

@test "running the bootstrap twice changes nothing" {
  bootstrap shell
  [ "$status" -eq 0 ]
  snapshot() { (cd "$T" && find state gitlab-runner systemd cwagent -type f -print0 | sort -z | xargs -0 sha256sum; find state gitlab-runner systemd cwagent -printf '%p %m\n' | sort); }
  before="$(snapshot)"
  mark second-run
  bootstrap shell
  [ "$status" -eq 0 ]
  [ "$(snapshot)" = "$before" ]
  second="$(sed -n '/^EVENT second-run/,$p' "$STUB_LOG")"
  echo "$second"
  run ! grep -E 'register|upgrade|dnf install|complete-lifecycle|^systemctl (enable|disable|start|stop|restart|daemon-reload|reboot)|fetch-config|put-|set-instance' <<<"$second"
}

@test "the token never appears in logs, recorded argv or files other than config.toml" {
  bootstrap shell
  [ "$status" -eq 0 ]
  launch_output="$output"
  start_agent
  wait_for_call 'set-instance-protection' 10
  imds_set '{"lifecycle_state":"Terminated"}'
  wait_for_agent 20
  printf 'glrt-some-other-token' >"$STUB_DIR/valid-token"
  rm -rf "$RF_STATE_DIR" "$RF_RUNNER_CONFIG_DIR"
  bootstrap shell
  [ "$status" -ne 0 ]
  all_output="$launch_output$output"
  run ! grep -F -- "$TEST_TOKEN" <<<"$all_output"
  run ! grep -F -- "$TEST_TOKEN" "$STUB_LOG" "$T/agent.out"
  run ! grep -rF -l -- "$TEST_TOKEN" "$RF_LOG_DIR" "$T/systemd" "$T/cwagent"
  # The stub's own fixtures aside, config.toml is the only place it may live.
  leaks="$(grep -rlF -- "$TEST_TOKEN" "$T" | grep -v -e "^$STUB_DIR/" -e '/config.toml$' || true)"
  echo "files holding the token: $leaks"
  [ -z "$leaks" ]
}

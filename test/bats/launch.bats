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
  # The package's post-install started the service; it is restarted after
  # register and enabled (start-runner) after verify.
  restart=$(line_of '^systemctl restart gitlab-runner.service')
  enable=$(line_of '^systemctl enable (--quiet )?gitlab-runner.service')
  complete=$(line_of 'complete-lifecycle-action --lifecycle-hook-name runner-fleet-launch .*--lifecycle-action-result CONTINUE')
  echo "patch=$patch ssm=$ssm register=$register restart=$restart verify=$verify enable=$enable complete=$complete"
  [ "$patch" -gt 0 ]
  [ "$ssm" -gt "$patch" ]
  [ "$register" -gt "$ssm" ]
  [ "$restart" -gt "$register" ]
  [ "$verify" -gt "$restart" ]
  [ "$enable" -gt "$verify" ]
  [ "$complete" -gt "$enable" ]
  [ "$(unit_active_state gitlab-runner.service)" = active ]
  # The runner package of the pinned version, for this host's architecture.
  grep -qx "curl GET file://$T/fixtures/v17.11.1/rpm/gitlab-runner_$(bash -c 'case $(uname -m) in x86_64) echo amd64;; *) uname -m;; esac').rpm" "$STUB_LOG"
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

@test "the package's post-install starts the runner: system_id and drop-in already there, restart after register" {
  bootstrap shell
  echo "$output"
  [ "$status" -eq 0 ]
  cat "$STUB_LOG"
  postinst=$(line_of '^POSTINST started gitlab-runner.service')
  register=$(line_of '^gitlab-runner register')
  reload=$(line_of '^systemctl daemon-reload')
  restart=$(line_of '^systemctl restart gitlab-runner.service')
  verify=$(line_of '^gitlab-runner verify')
  complete=$(line_of 'runner-fleet-launch .*CONTINUE')
  echo "postinst=$postinst register=$register restart=$restart verify=$verify complete=$complete"
  [ "$postinst" -gt 0 ]
  # What the process the post-install started found: this host's id and the drop-in.
  grep -qx 'POSTINST started gitlab-runner.service system_id=s_56789abcdef0 dropin=present' "$STUB_LOG"
  [ "$register" -gt "$postinst" ]
  [ "$restart" -gt "$register" ]
  [ "$(sed -n "$((register + 1)),$((restart - 1))p" "$STUB_LOG" | grep -c '^systemctl daemon-reload')" -ge 1 ]
  [ "$reload" -gt 0 ]
  [ "$verify" -gt "$restart" ]
  [ "$complete" -gt "$restart" ]
}

@test "the launch hook is heartbeated during a slow install, not only while patching" {
  write_env RF_PATCH_SCOPE=none
  echo 3 >"$STUB_DIR/install-seconds"
  bootstrap shell
  [ "$status" -eq 0 ]
  install=$(line_of '^dnf install .*gitlab-runner_')
  complete=$(line_of 'runner-fleet-launch .*CONTINUE')
  postinst=$(line_of '^POSTINST')
  during=$(sed -n "${install},${postinst}p" "$STUB_LOG" | grep -c 'record-lifecycle-action-heartbeat --lifecycle-hook-name runner-fleet-launch' || true)
  echo "install=$install postinst=$postinst complete=$complete heartbeats during the install=$during"
  [ "$install" -gt 0 ]
  [ "$postinst" -gt "$install" ]
  [ "$complete" -gt "$install" ]
  [ "$during" -ge 2 ]
  # None after CONTINUE: the loop stops first.
  [ "$(sed -n "${complete},\$p" "$STUB_LOG" | grep -c 'record-lifecycle-action-heartbeat' || true)" -eq 0 ]
  sleep 2
  [ "$(sed -n "${complete},\$p" "$STUB_LOG" | grep -c 'record-lifecycle-action-heartbeat' || true)" -eq 0 ]
}

@test "a launch that fails after register unregisters the runner manager before ABANDON" {
  touch "$STUB_DIR/verify-fail"
  bootstrap shell
  [ "$status" -ne 0 ]
  register=$(line_of '^gitlab-runner register')
  unregister=$(line_of '^gitlab-runner unregister .*--all-runners')
  abandon=$(line_of 'runner-fleet-launch .*ABANDON')
  echo "register=$register unregister=$unregister abandon=$abandon"
  [ "$register" -gt 0 ]
  [ "$unregister" -gt "$register" ]
  [ "$abandon" -gt "$unregister" ]
  run ! grep -q '^\[\[runners\]\]' "$RF_RUNNER_CONFIG_DIR/config.toml"
  grep -q "bootstrap failed at step 'verify'" "$RF_LOG_DIR/bootstrap.log"
}

@test "a launch that fails before register does not call unregister" {
  touch "$STUB_DIR/ssm-fail"
  bootstrap shell
  [ "$status" -ne 0 ]
  [ "$(count_calls '^gitlab-runner unregister')" -eq 0 ]
  [ "$(count_calls 'runner-fleet-launch .*ABANDON')" -eq 1 ]
}

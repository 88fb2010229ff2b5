#!/usr/bin/env bats
# The runner token on the instance: never rotated by the host (token_expires_at
# zero), swapped into config.toml by the lifecycle agent when SSM has a new version.

load helpers/common

NEW_TOKEN="glrt-ROTATED-5d1e2f3a4b"

setup() {
  fleet_setup
  export RF_TOKEN_WATCH_INTERVAL_SECONDS=1
  # aws answers the version query from $STUB_DIR/token-version; everything
  # else goes to the shared recording stub.
  mkdir -p "$T/stubreal"
  ln -s "$REPO_ROOT/test/bats/helpers/stub.sh" "$T/stubreal/aws"
  rm -f "$T/bin/aws"
  cat >"$T/bin/aws" <<'SH'
#!/usr/bin/env bash
if [[ " $* " == *" ssm get-parameter "* && " $* " == *" Parameter.Version "* ]]; then
  printf 'aws %s\n' "$*" >>"$STUB_LOG"
  [[ -e "$STUB_DIR/ssm-version-fail" ]] && { echo "An error occurred (ThrottlingException)" >&2; exit 254; }
  cat "$STUB_DIR/token-version" 2>/dev/null || echo 1
  exit 0
fi
exec "$(dirname "$0")/../stubreal/aws" "$@"
SH
  chmod +x "$T/bin/aws"
}
teardown() { [[ -n "${BATS_TEST_COMPLETED:-}" ]] || { cat "$T/agent.out"; cat "$STUB_LOG"; } >&3; fleet_teardown; }

config() { cat "$RF_RUNNER_CONFIG_DIR/config.toml"; }

# rotate VERSION TOKEN: what runner-fleet rotate-token leaves in SSM.
rotate() {
  printf '%s' "$2" >"$STUB_DIR/token"
  echo "$1" >"$STUB_DIR/token-version"
}

registered_with_expiry() {
  mkdir -p "$RF_RUNNER_CONFIG_DIR"
  cat >"$RF_RUNNER_CONFIG_DIR/config.toml" <<TOML
concurrent = 4

[[runners]]
  name = "stub"
  url = "https://gitlab.example.com"
  id = 42
  token = "$TEST_TOKEN"
  token_obtained_at = 2026-11-30T10:00:00Z
  token_expires_at = 2026-12-30T10:00:00Z
  executor = "shell"
TOML
  chmod 0600 "$RF_RUNNER_CONFIG_DIR/config.toml"
  runner_running
}

@test "after register the host's config.toml has no token expiry, so gitlab-runner never resets the shared token" {
  registered_with_expiry
  # shellcheck disable=SC2016 # expanded by the inner bash
  run env LINUX_DIR="$LINUX_DIR" bash -c '. "$LINUX_DIR/lib/bootstrap.sh"; token_pin_no_rotation; token_pin_no_rotation'
  [ "$status" -eq 0 ]
  grep -qx '  token_expires_at = 0001-01-01T00:00:00Z' "$RF_RUNNER_CONFIG_DIR/config.toml"
  grep -qx "  token = \"$TEST_TOKEN\"" "$RF_RUNNER_CONFIG_DIR/config.toml"
  grep -qx '  token_obtained_at = 2026-11-30T10:00:00Z' "$RF_RUNNER_CONFIG_DIR/config.toml"
  [ "$(stat -c %a "$RF_RUNNER_CONFIG_DIR/config.toml")" = 600 ]
  [ "$(grep -c 'token_expires_at cleared' <<<"$output")" -eq 1 ]
  [[ "$output" != *"$TEST_TOKEN"* ]]
}

@test "bootstrap clears the expiry right after register" {
  run grep -nE '^  step (register|pin-token|restart-runner) ' "$LINUX_DIR/lib/bootstrap.sh"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *"step register "* ]]
  [[ "${lines[1]}" == *"step pin-token token_pin_no_rotation"* ]]
}

@test "the agent swaps a new SSM version into config.toml within seconds and records it; the token is never logged" {
  registered_with_expiry
  start_agent
  wait_for_call 'ssm get-parameter --name /runner-fleet/test/token --query Parameter.Version' 10
  sleep 2
  # Version 1 holds the token config.toml already has: nothing rewritten.
  config | grep -qx "  token = \"$TEST_TOKEN\""
  [ "$(cat "$RF_STATE_DIR/token-version")" = 1 ]
  rotate 2 "$NEW_TOKEN"
  for _ in $(seq 1 50); do
    config | grep -q "$NEW_TOKEN" && break
    sleep 0.1
  done
  config | grep -qx "  token = \"$NEW_TOKEN\""
  config | grep -qx '  token_expires_at = 0001-01-01T00:00:00Z'
  config | grep -qx '  executor = "shell"'
  [ "$(stat -c %a "$RF_RUNNER_CONFIG_DIR/config.toml")" = 600 ]
  for _ in $(seq 1 20); do [ "$(cat "$RF_STATE_DIR/token-version")" = 2 ] && break; sleep 0.1; done
  [ "$(cat "$RF_STATE_DIR/token-version")" = 2 ]
  grep -q 'runner token version 2 of /runner-fleet/test/token swapped into config.toml' "$RF_LOG_DIR/lifecycle-agent.log"
  run grep -c "$NEW_TOKEN" "$RF_LOG_DIR/lifecycle-agent.log" "$T/agent.out" "$STUB_LOG"
  [ "$status" -eq 1 ]
  # Read with decryption only on a version change: once at start, once for version 2.
  [ "$(count_calls 'ssm get-parameter .*--with-decryption')" -eq 2 ]
  kill -0 "$AGENT_PID"
}

@test "SSM trouble is retried and never stops the agent; a bad value never reaches config.toml" {
  registered_with_expiry
  touch "$STUB_DIR/ssm-version-fail"
  start_agent
  wait_for_call 'ssm get-parameter --name /runner-fleet/test/token --query Parameter.Version' 10
  sleep 2
  kill -0 "$AGENT_PID"
  grep -q 'cannot read the version of SSM parameter /runner-fleet/test/token' "$RF_LOG_DIR/lifecycle-agent.log"
  rm -f "$STUB_DIR/ssm-version-fail"
  rotate 3 'not a "token"'
  sleep 3
  kill -0 "$AGENT_PID"
  config | grep -qx "  token = \"$TEST_TOKEN\""
  grep -q 'is at version 3 but its token cannot be read' "$RF_LOG_DIR/lifecycle-agent.log"
  rotate 4 "$NEW_TOKEN"
  for _ in $(seq 1 50); do config | grep -q "$NEW_TOKEN" && break; sleep 0.1; done
  config | grep -qx "  token = \"$NEW_TOKEN\""
}

@test "a fleet whose token is in Secrets Manager is not watched" {
  registered_with_expiry
  write_env RF_TOKEN_SOURCE=secretsmanager:runner-fleet/test
  start_agent
  wait_for_call 'set-instance-protection' 10
  sleep 2
  [ "$(count_calls 'Parameter.Version')" -eq 0 ]
}

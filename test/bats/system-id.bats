#!/usr/bin/env bats
# The runner system_id derivation: deterministic from the instance id and
# accepted by gitlab-runner (^[sr]_[0-9a-zA-Z]{12}$, system_id_state.go).

load helpers/common

setup() {
  RF_LOG_DIR="$(mktemp -d)"
  export RF_LOG_DIR
  # shellcheck disable=SC1091 # the libraries are checked on their own
  . "$LINUX_DIR/lib/common.sh"
  # shellcheck disable=SC1091
  . "$LINUX_DIR/lib/runner.sh"
}
teardown() { rm -rf "$RF_LOG_DIR"; }

@test "17-digit instance ids give s_ + their last 12 hex digits" {
  [ "$(runner_system_id i-0123456789abcdef0)" = s_56789abcdef0 ]
  [ "$(runner_system_id I-0ABCDEF0123456789)" = s_ef0123456789 ]
}

@test "8-digit legacy ids are left-padded with zeros" {
  [ "$(runner_system_id i-1a2b3c4d)" = s_00001a2b3c4d ]
}

@test "every derived id matches gitlab-runner's accepted format" {
  for id in i-0123456789abcdef0 i-ffffffffffffffff0 i-12345678; do
    [[ "$(runner_system_id "$id")" =~ $RF_SYSTEM_ID_PATTERN ]]
  done
}

@test "anything that is not an instance id is refused" {
  run runner_system_id "i-xyz"
  [ "$status" -ne 0 ]
  run runner_system_id ""
  [ "$status" -ne 0 ]
}

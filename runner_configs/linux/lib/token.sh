# shellcheck shell=bash
# The runner token over the instance's life. Every instance of a fleet shares
# one glrt- token, so no instance may rotate it: gitlab-runner resets a token
# by itself (POST /api/v4/runners/reset_authentication_token, commands/multi.go
# resetOneRunnerToken) when its config.toml has a token_expires_at, at 75% of
# the token's life, and keeps the new token to itself, which cuts off every
# other host. Register writes token_expires_at from /runners/verify, so the
# launch sets it back to zero, which nextRunnerToReset skips. The token is
# rotated centrally (runner-fleet rotate-token) as a new version of the SSM
# parameter; the lifecycle agent notices the new version and swaps the token
# into config.toml, which gitlab-runner reloads (it checks the file every 3 s)
# without touching running jobs: they report with their own job tokens.
# Sourced by lib/bootstrap.sh and the lifecycle agent; needs lib/common.sh and
# lib/runner.sh.

# How often the agent asks SSM for the parameter's version: well inside the
# minute a rotation may leave new jobs waiting, far below SSM's rate limits
# for a fleet of hundreds.
readonly RF_TOKEN_WATCH_INTERVAL_SECONDS="${RF_TOKEN_WATCH_INTERVAL_SECONDS:-30}"
# The "no expiry" value gitlab-runner writes for a zero time (BurntSushi/toml of time.Time{}).
readonly RF_TOKEN_NO_EXPIRY="0001-01-01T00:00:00Z"

# token_pin_no_rotation: set token_expires_at in config.toml to zero so this
# host never resets the shared token. Safe to run twice.
token_pin_no_rotation() {
  [[ -f "$RF_RUNNER_CONFIG" ]] || return 0
  if ! grep -Eq '^[[:space:]]*token_expires_at = ' "$RF_RUNNER_CONFIG" ||
    grep -Eq "^[[:space:]]*token_expires_at = $RF_TOKEN_NO_EXPIRY\$" "$RF_RUNNER_CONFIG"; then
    return 0
  fi
  _token_rewrite_config ""
  log_info "token_expires_at cleared in config.toml: this host never rotates the shared runner token"
}

# _token_rewrite_config TOKEN: rewrite config.toml atomically (same directory,
# mode 0600) with token_expires_at zero and, when TOKEN is given, the runner
# token replaced. The token reaches awk through the environment, never argv.
_token_rewrite_config() {
  local tmp
  tmp="$(mktemp "$RF_RUNNER_CONFIG.XXXXXX")"
  chmod 0600 "$tmp"
  RF_NEW_TOKEN="$1" RF_NO_EXPIRY="$RF_TOKEN_NO_EXPIRY" awk '
    /^[[:space:]]*token_expires_at = / { sub(/=.*/, "= " ENVIRON["RF_NO_EXPIRY"]) }
    ENVIRON["RF_NEW_TOKEN"] != "" && /^[[:space:]]*token = "/ { sub(/".*"/, "\"" ENVIRON["RF_NEW_TOKEN"] "\"") }
    { print }
  ' "$RF_RUNNER_CONFIG" >"$tmp" || {
    rm -f "$tmp"
    return 1
  }
  mv -f "$tmp" "$RF_RUNNER_CONFIG"
}

# token_parameter_version NAME: the SSM parameter's version, without decrypting it.
token_parameter_version() {
  aws --region "$RF_REGION" ssm get-parameter --name "$1" --query Parameter.Version --output text
}

# token_config_value: the token config.toml holds now (never logged).
token_config_value() {
  sed -nE 's/^[[:space:]]*token = "([^"]*)".*/\1/p' "$RF_RUNNER_CONFIG" | head -1
}

# token_watch_due: true at most every RF_TOKEN_WATCH_INTERVAL_SECONDS, and
# only for an SSM token (a Secrets Manager token is not watched). Kept apart
# from token_sync so an agent can run the sync in the background (the AWS CLI
# takes about a second) while the timer stays in the agent's own shell.
_token_next_check=0
token_watch_due() {
  local now
  [[ "${RF_TOKEN_SOURCE:-}" == ssm:?* ]] || return 1
  now="$(now_epoch)"
  ((now >= _token_next_check)) || return 1
  _token_next_check=$((now + RF_TOKEN_WATCH_INTERVAL_SECONDS))
}

# token_watch: on every pass of the agent's loop; syncs when due.
token_watch() {
  token_watch_due || return 0
  token_sync
}

# token_sync: asks SSM for the parameter's version; on a new one reads the
# token and, when it differs from config.toml's, swaps it in. Failures are
# logged and retried on the next check: they must never stop the agent.
token_sync() {
  local name version known token
  runner_is_registered || return 0
  name="${RF_TOKEN_SOURCE#ssm:}"
  version="$(token_parameter_version "$name")" || {
    log_warn "cannot read the version of SSM parameter $name; checking again in ${RF_TOKEN_WATCH_INTERVAL_SECONDS}s"
    return 0
  }
  known="$(cat "$RF_STATE_DIR/token-version" 2>/dev/null || true)"
  [[ "$version" != "$known" ]] || return 0
  # runner_read_token dies on failure; in the subshell that ends only the read.
  token="$(runner_read_token)" || {
    log_warn "SSM parameter $name is at version $version but its token cannot be read; retrying"
    return 0
  }
  if [[ ! "$token" =~ ^[A-Za-z0-9._-]+$ ]]; then
    log_warn "SSM parameter $name version $version does not hold a runner token; config.toml left as it is"
    token=""
    return 0
  fi
  if [[ "$token" != "$(token_config_value)" ]]; then
    _token_rewrite_config "$token" || {
      log_warn "could not rewrite config.toml with token version $version; retrying"
      token=""
      return 0
    }
    log_info "runner token version $version of $name swapped into config.toml; gitlab-runner reloads it, running jobs go on"
  fi
  token=""
  mkdir -p "$RF_STATE_DIR"
  printf '%s\n' "$version" >"$RF_STATE_DIR/token-version"
}

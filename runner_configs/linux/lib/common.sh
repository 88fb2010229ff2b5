# shellcheck shell=bash
# Shared helpers for every runner-fleet script on Linux: paths, named timeouts,
# logging, the fleet.env parser and the settings derived from it, retry with
# backoff, step tracking and file writes that change nothing when the content
# is already right.
# Sourced, never run. Every path and timeout can be overridden from the
# environment so the test suite runs unprivileged with short intervals; the
# defaults are the production values.

# bootstrap.sh sources this file too; a second source would redeclare the
# readonly names below and, under set -e, end the script.
[[ -z "${RF_COMMON_SOURCED:-}" ]] || return 0
readonly RF_COMMON_SOURCED=1

# ---- paths (production defaults) --------------------------------------------
readonly RF_ENV_FILE="${RF_ENV_FILE:-/etc/runner-fleet/fleet.env}"
readonly RF_INSTALL_DIR="${RF_INSTALL_DIR:-/opt/runner-fleet}"
readonly RF_STATE_DIR="${RF_STATE_DIR:-/var/lib/runner-fleet}"
readonly RF_LOG_DIR="${RF_LOG_DIR:-/var/log/runner-fleet}"
readonly RF_RUNNER_CONFIG_DIR="${RF_RUNNER_CONFIG_DIR:-/etc/gitlab-runner}"
readonly RF_SYSTEMD_DIR="${RF_SYSTEMD_DIR:-/etc/systemd/system}"
readonly RF_CWAGENT_CONFIG_DIR="${RF_CWAGENT_CONFIG_DIR:-/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d}"
# The runner's Prometheus listener (config.toml listen_address), loopback only.
readonly RF_RUNNER_LISTEN_ADDRESS="${RF_RUNNER_LISTEN_ADDRESS:-127.0.0.1:9252}"
readonly RF_RUNNER_METRICS_URL="${RF_RUNNER_METRICS_URL:-http://$RF_RUNNER_LISTEN_ADDRESS/metrics}"
readonly RF_MEMINFO_FILE="${RF_MEMINFO_FILE:-/proc/meminfo}"
readonly RF_RUNNER_DOWNLOAD_BASE="${RF_RUNNER_DOWNLOAD_BASE:-https://gitlab-runner-downloads.s3.amazonaws.com}"

# The drain's own state, so an agent restarted mid-drain (systemd Restart=)
# resumes the same drain with the same deadline instead of starting over.
readonly RF_DRAIN_STATE_FILE="${RF_DRAIN_STATE_FILE:-$RF_STATE_DIR/drain.state}"

# ---- named timeouts -----------------------------------------------------------
# How often the agent reads target-lifecycle-state and spot/instance-action,
# and how often a drain checks the runner's main process. 1 s keeps an idle
# instance's Terminating -> CONTINUE under 3 s in its worst phase (detection
# <= 1 s, then stop, unregister and complete); two link-local GETs a second
# are far below IMDS's per-instance throttling (AWS's node termination
# handler polls at a similar rate), and the runner's metrics are not read
# at this rate (RF_POLL_INTERVAL_SECONDS).
readonly RF_WATCH_INTERVAL_SECONDS="${RF_WATCH_INTERVAL_SECONDS:-1}"
# How often the agent reads the runner's busy slots (scale-in protection) and
# the rebalance recommendation: neither needs to be faster, and the metrics
# endpoint is the runner's own HTTP server.
readonly RF_POLL_INTERVAL_SECONDS="${RF_POLL_INTERVAL_SECONDS:-5}"
# gitlab-runner unregister is one DELETE to GitLab, but the runner's HTTP
# client waits up to 60 minutes for an answer (common/consts.go,
# DefaultNetworkClientTimeout): a hanging GitLab would stop
# the drain's heartbeats and eat the spot reserve. 15 s covers a slow GitLab,
# fits in RF_SPOT_UNREGISTER_RESERVE_SECONDS with time left to complete the
# lifecycle action, and is far below the heartbeat interval. A manager left
# behind goes stale and GitLab removes it after 7 days.
readonly RF_UNREGISTER_TIMEOUT_SECONDS="${RF_UNREGISTER_TIMEOUT_SECONDS:-15}"
# The contract publishes its metrics every 60 s (CloudWatch standard resolution).
readonly RF_METRICS_INTERVAL_SECONDS="${RF_METRICS_INTERVAL_SECONDS:-60}"
# Time kept back from the 2-minute spot notice to unregister and flush logs
# (one API call each, plus a slow-network margin).
readonly RF_SPOT_UNREGISTER_RESERVE_SECONDS="${RF_SPOT_UNREGISTER_RESERVE_SECONDS:-20}"
# Fallback when a spot notice carries no parsable time: the documented 2 minutes.
readonly RF_SPOT_NOTICE_SECONDS="${RF_SPOT_NOTICE_SECONDS:-120}"
# config.toml shutdown_timeout: bounds only the forceful path (SIGTERM after the
# drain gave up); 30 s lets the runner report aborted jobs to GitLab.
readonly RF_RUNNER_SHUTDOWN_TIMEOUT_SECONDS="${RF_RUNNER_SHUTDOWN_TIMEOUT_SECONDS:-30}"
# How long to wait for the runner to exit after the forced SIGTERM: the
# runner's own shutdown_timeout plus a margin for process teardown.
readonly RF_FORCED_STOP_WAIT_SECONDS="${RF_FORCED_STOP_WAIT_SECONDS:-$((RF_RUNNER_SHUTDOWN_TIMEOUT_SECONDS + 15))}"
# How long the bootstrap waits for the gitlab-runner service to report active;
# the binary starts in about a second, 60 s covers a slow first docker start.
readonly RF_SERVICE_START_TIMEOUT_SECONDS="${RF_SERVICE_START_TIMEOUT_SECONDS:-60}"
# IMDS is link-local: an answer takes milliseconds, so 2 s to connect and 5 s
# in total mean "unwell, retry" rather than "slow".
readonly RF_IMDS_CONNECT_TIMEOUT_SECONDS="${RF_IMDS_CONNECT_TIMEOUT_SECONDS:-2}"
readonly RF_IMDS_MAX_TIME_SECONDS="${RF_IMDS_MAX_TIME_SECONDS:-5}"
# Retries with doubling back-off (1+2+4+8 s = 15 s) ride out IMDS throttling
# and brief restarts without hiding a real outage for long.
readonly RF_RETRY_ATTEMPTS="${RF_RETRY_ATTEMPTS:-5}"
readonly RF_RETRY_BASE_SECONDS="${RF_RETRY_BASE_SECONDS:-1}"
# IMDSv2 session token lifetime: the maximum (6 h); the agent renews it well
# before expiry (RF_IMDS_TOKEN_RENEW_SECONDS) so a long drain never uses a dead token.
readonly RF_IMDS_TOKEN_TTL_SECONDS="${RF_IMDS_TOKEN_TTL_SECONDS:-21600}"
readonly RF_IMDS_TOKEN_RENEW_SECONDS="${RF_IMDS_TOKEN_RENEW_SECONDS:-3600}"
# Package downloads: the runner rpm is ~20 MB, helper images ~500 MB.
readonly RF_DOWNLOAD_MAX_TIME_SECONDS="${RF_DOWNLOAD_MAX_TIME_SECONDS:-900}"
# gitlab-runner verify attempts: GitLab may be briefly unreachable at boot;
# three attempts with back-off separate "blip" from "wrong token / no route".
readonly RF_VERIFY_ATTEMPTS="${RF_VERIFY_ATTEMPTS:-3}"

# AWS ends a lifecycle action after 100 x its heartbeat timeout or 48 h,
# whichever is smaller (heartbeats do not extend that); a drain must end early
# enough to unregister and complete the action itself.
readonly RF_LIFECYCLE_GLOBAL_TIMEOUT_MAX_SECONDS=172800
readonly RF_DRAIN_COMPLETION_MARGIN_SECONDS=300

# AWS CLI: standard retry mode with 5 attempts absorbs API throttling.
export AWS_RETRY_MODE="${AWS_RETRY_MODE:-standard}"
export AWS_MAX_ATTEMPTS="${AWS_MAX_ATTEMPTS:-5}"

RF_SCRIPT_NAME="${RF_SCRIPT_NAME:-$(basename "${0:-runner-fleet}" .sh)}"
RF_CURRENT_STEP="${RF_CURRENT_STEP:-start}"

# log LEVEL MESSAGE...: one line to stderr (the journal) and to the script's log file.
log() {
  local level="$1"
  shift
  local stamp line
  # printf's own clock, not date: no process per log line (the drain logs on its clock).
  TZ=UTC0 printf -v stamp '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  line="$stamp ${RF_SCRIPT_NAME}[$$] $level step=$RF_CURRENT_STEP: $*"
  printf '%s\n' "$line" >&2
  if [[ -d "$RF_LOG_DIR" ]]; then
    printf '%s\n' "$line" >>"$RF_LOG_DIR/$RF_SCRIPT_NAME.log" 2>/dev/null || true
  fi
}
log_info() { log INFO "$@"; }
log_warn() { log WARN "$@"; }
log_error() { log ERROR "$@"; }

die() {
  log_error "$*"
  exit 1
}

# rf_load_env FILE: export the RF_* keys of the contract's env file. Only
# lines matching ^RF_[A-Z0-9_]+= are accepted; the value is taken verbatim
# (never sourced or evaluated). Anything else is reported and ignored.
rf_load_env() {
  local file="${1:-$RF_ENV_FILE}" line key value n=0
  [[ -r "$file" ]] || die "environment file $file is missing or unreadable; the UserData bootstrap writes it"
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    line="${line%$'\r'}"
    [[ -z "$line" || "$line" == \#* ]] && continue
    if [[ "$line" =~ ^(RF_[A-Z0-9_]+)=(.*)$ ]]; then
      key="${BASH_REMATCH[1]}"
      value="${BASH_REMATCH[2]}"
      printf -v "$key" '%s' "$value"
      export "${key?}"
    else
      log_warn "ignoring line $n of $file: not an RF_KEY=value line"
    fi
  done <"$file"
}

# rf_require KEY...: fail with one line naming every missing key.
rf_require() {
  local key missing=()
  for key in "$@"; do
    [[ -n "${!key:-}" ]] || missing+=("$key")
  done
  ((${#missing[@]} == 0)) || die "missing in $RF_ENV_FILE: ${missing[*]}"
}

# fleet_settings: the settings derived from fleet.env, after rf_load_env;
# the bootstrap and the lifecycle agent both start with it.
fleet_settings() {
  rf_require RF_REGION RF_GITLAB_URL RF_EXECUTOR RF_CONCURRENT RF_TOKEN_SOURCE RF_METRICS_NAMESPACE
  # Heartbeat at a third of the hook's timeout so two lost heartbeats in a
  # row still do not let the hook expire.
  readonly RF_HEARTBEAT_INTERVAL_SECONDS="${RF_HEARTBEAT_INTERVAL_SECONDS:-$((${RF_HEARTBEAT_TIMEOUT:-600} / 3))}"
  # 3 h by default: long CI jobs finish. Capped at min(100 x heartbeat
  # timeout, 48 h) - margin, so the drain still completes the action itself
  # (CloudFormation Rules cannot do this arithmetic).
  RF_MAX_DRAIN_SECONDS="${RF_MAX_DRAIN_SECONDS:-10800}"
  local drain_limit=$((100 * ${RF_HEARTBEAT_TIMEOUT:-600}))
  if ((drain_limit > RF_LIFECYCLE_GLOBAL_TIMEOUT_MAX_SECONDS)); then drain_limit=$RF_LIFECYCLE_GLOBAL_TIMEOUT_MAX_SECONDS; fi
  drain_limit=$((drain_limit - RF_DRAIN_COMPLETION_MARGIN_SECONDS))
  if ((RF_MAX_DRAIN_SECONDS > drain_limit)); then
    log_warn "RF_MAX_DRAIN_SECONDS=$RF_MAX_DRAIN_SECONDS exceeds the lifecycle action's global timeout (100 x RF_HEARTBEAT_TIMEOUT=${RF_HEARTBEAT_TIMEOUT:-600}, at most 48 h) minus ${RF_DRAIN_COMPLETION_MARGIN_SECONDS}s; draining at most ${drain_limit}s"
    RF_MAX_DRAIN_SECONDS=$drain_limit
  fi
  export RF_MAX_DRAIN_SECONDS
}

# retry DESCRIPTION CMD...: run CMD up to RF_RETRY_ATTEMPTS times with
# doubling back-off; returns the last exit status.
retry() {
  local what="$1" attempt=1 delay="$RF_RETRY_BASE_SECONDS" status
  shift
  while true; do
    if "$@"; then return 0; else status=$?; fi
    if ((attempt >= RF_RETRY_ATTEMPTS)); then
      log_warn "$what failed after $attempt attempts (exit $status)"
      return "$status"
    fi
    log_warn "$what failed (exit $status), attempt $attempt/$RF_RETRY_ATTEMPTS; retrying in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
}

# step NAME CMD...: run one named step; the ERR trap reports the step name.
step() {
  RF_CURRENT_STEP="$1"
  shift
  log_info "begin"
  "$@"
  log_info "done"
}

# write_if_changed PATH MODE: write stdin to PATH only when the content
# differs; returns 0 when it wrote, 1 when the file was already right.
write_if_changed() {
  local path="$1" mode="$2" tmp
  mkdir -p "$(dirname "$path")"
  tmp="$(mktemp "$path.XXXXXX")"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$path"
  return 0
}

# marker_set NAME / marker_has NAME: persistent one-shot markers in RF_STATE_DIR.
marker_set() {
  mkdir -p "$RF_STATE_DIR"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$RF_STATE_DIR/$1"
}
marker_has() { [[ -f "$RF_STATE_DIR/$1" ]]; }

now_epoch() { printf '%(%s)T\n' -1; }

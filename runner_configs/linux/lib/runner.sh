# shellcheck shell=bash
# Everything about gitlab-runner on this host: install, token, config.toml,
# register, verify, service control, busy slots, drain, unregister.
# Requires lib/common.sh and lib/packages.sh.

readonly RF_RUNNER_SERVICE="${RF_RUNNER_SERVICE:-gitlab-runner.service}"
readonly RF_RUNNER_CONFIG="$RF_RUNNER_CONFIG_DIR/config.toml"
readonly RF_RUNNER_SYSTEM_ID_FILE="$RF_RUNNER_CONFIG_DIR/.runner_system_id"
# gitlab-runner accepts a .runner_system_id only if it matches this pattern
# (commands/internal/configfile/system_id_state.go, loadFromFile); any other
# content is silently replaced by a generated id.
readonly RF_SYSTEM_ID_PATTERN='^[sr]_[0-9a-zA-Z]{12}$'

# runner_system_id INSTANCE_ID: "s_" + the last 12 hex digits of the instance
# id (left-padded with 0 for 8-digit legacy ids). Deterministic, so tools can
# find the runner manager of an instance; the same rule lives in
# windows/lib/Runner.ps1 (Get-RunnerSystemId) and scripts/gitlab/system-id.ts.
runner_system_id() {
  local id="${1,,}" hex
  [[ "$id" =~ ^i-([0-9a-f]{8}|[0-9a-f]{17})$ ]] || {
    log_error "not an EC2 instance id: '$1'"
    return 1
  }
  hex="${BASH_REMATCH[1]}"
  hex="000000000000$hex"
  printf 's_%s\n' "${hex: -12}"
}

# runner_write_system_id INSTANCE_ID: write .runner_system_id (0600) before
# the runner ever starts, so it never generates a random one.
runner_write_system_id() {
  local sid
  sid="$(runner_system_id "$1")"
  [[ "$sid" =~ $RF_SYSTEM_ID_PATTERN ]] || die "derived system_id $sid does not match $RF_SYSTEM_ID_PATTERN"
  mkdir -p "$RF_RUNNER_CONFIG_DIR"
  chmod 0700 "$RF_RUNNER_CONFIG_DIR"
  if printf '%s\n' "$sid" | write_if_changed "$RF_RUNNER_SYSTEM_ID_FILE" 0600; then
    log_info "system_id $sid written to $RF_RUNNER_SYSTEM_ID_FILE"
  fi
}

# runner_installed_version: print the installed gitlab-runner version, or fail.
runner_installed_version() {
  command -v gitlab-runner >/dev/null 2>&1 || return 1
  gitlab-runner --version 2>/dev/null | awk '/^Version:/ {print $2; exit}'
}

# runner_package_arch KIND MACHINE VERSION: the architecture part of GitLab's
# package file name (gitlab-runner-downloads bucket, <ref>/<kind>/gitlab-runner_<arch>.<kind>).
# deb: amd64 / arm64. rpm: since v18.9.0 (and `latest`) the RPM-native names
# x86_64 / aarch64; before that amd64 for x86_64 (aarch64 was always published).
# Source: gitlab-runner ci/release_dir and commit 781b86d1c "Fix rpm package
# architectures"; docs/install/linux-manually.md.
runner_package_arch() {
  local kind="$1" machine="$2" version="$3"
  case "$kind:$machine" in
    deb:x86_64) echo amd64 ;;
    deb:aarch64) echo arm64 ;;
    rpm:aarch64) echo aarch64 ;;
    rpm:x86_64)
      if [[ "$version" == latest ]] || [[ "$(printf '%s\n' 18.9.0 "$version" | sort -V | head -1)" == 18.9.0 ]]; then
        echo x86_64
      else
        echo amd64
      fi
      ;;
    *) return 1 ;;
  esac
}

# runner_install VERSION: install gitlab-runner and its helper images
# (a required dependency of the packages since 17.x) from GitLab's official
# package bucket, checked against the release's SHA-256 list. The package's
# post-install starts the service: the bootstrap writes .runner_system_id and
# the drain drop-in before this, and restarts the service after register.
runner_install() {
  local want="$1" have kind arch dir ref
  have="$(runner_installed_version || true)"
  if [[ -n "$have" && ("$want" == latest || "$have" == "$want") ]]; then
    log_info "gitlab-runner $have already installed"
    return 0
  fi
  kind="$(pkg_kind)" || die "no supported package manager (dnf or apt-get)"
  arch="$(runner_package_arch "$kind" "$(uname -m)" "$want")" || die "unsupported architecture $(uname -m)"
  ref="latest"
  [[ "$want" == latest ]] || ref="v$want"
  dir="$(mktemp -d)"
  mkdir -p "$dir/$kind"
  local base="${RF_RUNNER_DOWNLOAD_BASE%/}/$ref" file
  for file in "$kind/gitlab-runner-helper-images.$kind" "$kind/gitlab-runner_$arch.$kind" release.sha256; do
    log_info "downloading $base/$file"
    retry "download $file" curl -fsSL --max-time "$RF_DOWNLOAD_MAX_TIME_SECONDS" -o "$dir/$file" "$base/$file" ||
      die "cannot download $base/$file; check RF_RUNNER_VERSION=$want and outbound HTTPS"
  done
  (cd "$dir" && sha256sum --quiet --ignore-missing -c release.sha256) ||
    die "gitlab-runner packages for $ref do not match release.sha256; refusing to install"
  # Both files must be listed: --ignore-missing alone would accept an unlisted file.
  for file in "$kind/gitlab-runner-helper-images.$kind" "$kind/gitlab-runner_$arch.$kind"; do
    grep -qF -- "$file" "$dir/release.sha256" || die "$file is not listed in $base/release.sha256; refusing to install"
  done
  pkg_install "$dir/$kind/gitlab-runner-helper-images.$kind" "$dir/$kind/gitlab-runner_$arch.$kind"
  rm -rf "$dir"
  log_info "installed gitlab-runner $(runner_installed_version || echo '?')"
}

# runner_read_token: print the runner token from SSM or Secrets Manager
# (RF_TOKEN_SOURCE). Callers keep it in a variable; it is never logged.
runner_read_token() {
  local source="$RF_TOKEN_SOURCE" token
  case "$source" in
    ssm:?*)
      token="$(aws --region "$RF_REGION" ssm get-parameter --with-decryption \
        --name "${source#ssm:}" --query Parameter.Value --output text)" ||
        die "cannot read the runner token from SSM parameter ${source#ssm:}; check the name and the instance role"
      ;;
    secretsmanager:?*)
      token="$(aws --region "$RF_REGION" secretsmanager get-secret-value \
        --secret-id "${source#secretsmanager:}" --query SecretString --output text)" ||
        die "cannot read the runner token from secret ${source#secretsmanager:}; check the name and the instance role"
      ;;
    *) die "RF_TOKEN_SOURCE must be ssm:<name> or secretsmanager:<id>, got '$source'" ;;
  esac
  [[ -n "$token" && "$token" != None ]] || die "the runner token at $source is empty"
  if [[ "${RF_TOKEN_KIND:-authentication}" == authentication && "$token" != glrt-* ]]; then
    die "the token at $source is not a glrt- runner authentication token (RF_TOKEN_KIND=authentication)"
  fi
  printf '%s' "$token"
}

# runner_write_global_config CONCURRENT: the global part of config.toml;
# register appends the [[runners]] entry. Written only before registration.
runner_write_global_config() {
  local concurrent="$1"
  if runner_is_registered; then
    log_info "config.toml already registered; global settings kept"
    return 0
  fi
  mkdir -p "$RF_RUNNER_CONFIG_DIR"
  (
    umask 077
    write_if_changed "$RF_RUNNER_CONFIG" 0600 <<TOML || true
# Written by runner-fleet; the [[runners]] entry is added by gitlab-runner register.
concurrent = $concurrent
check_interval = 3
# Bounds only the forceful path (SIGTERM); a drain uses SIGQUIT and waits for jobs.
shutdown_timeout = $RF_RUNNER_SHUTDOWN_TIMEOUT_SECONDS
# Prometheus metrics for the lifecycle agent (busy slots); loopback only.
listen_address = "$RF_RUNNER_LISTEN_ADDRESS"

[session_server]
  session_timeout = 1800
TOML
  )
}

# runner_docker_toml EXECUTOR [SETTING...]: the [[runners]] head and the
# [runners.docker] block every Linux docker fleet shares (the docker executor,
# and the docker-autoscaler manager whose workers run the same containers);
# each SETTING is one more line of the block.
runner_docker_toml() {
  local executor="$1" setting
  shift
  cat <<TOML
[[runners]]
  executor = "$executor"
  [runners.docker]
    image = "${RF_DOCKER_IMAGE:-alpine:3.20}"
    privileged = false
    volumes = ["/cache"]
TOML
  for setting in "$@"; do printf '    %s\n' "$setting"; done
}

# runner_cache_toml: the [runners.cache] block for the stack's S3 bucket.
runner_cache_toml() {
  [[ -n "${RF_CACHE_BUCKET:-}" ]] || return 0
  cat <<TOML
  [runners.cache]
    Type = "s3"
    Shared = true
    [runners.cache.s3]
      BucketName = "$RF_CACHE_BUCKET"
      BucketLocation = "$RF_REGION"
      AuthenticationType = "iam"
TOML
}

runner_is_registered() {
  [[ -f "$RF_RUNNER_CONFIG" ]] && grep -q '^\[\[runners\]\]' "$RF_RUNNER_CONFIG"
}

# runner_register NAME EXECUTOR TEMPLATE_FILE [EXTRA_ARGS...]: register
# non-interactively. The token travels only in the child's environment
# (CI_SERVER_TOKEN / REGISTRATION_TOKEN), never in argv, so `ps` cannot show it.
runner_register() {
  local name="$1" executor="$2" template="$3" token
  shift 3
  if runner_is_registered; then
    log_info "config.toml already has a runner; not registering again"
    return 0
  fi
  token="$(runner_read_token)"
  local args=(register --non-interactive --config "$RF_RUNNER_CONFIG" --template-config "$template"
    --url "$RF_GITLAB_URL" --name "$name" --executor "$executor" "$@")
  local status=0
  if [[ "${RF_TOKEN_KIND:-authentication}" == registration ]]; then
    REGISTRATION_TOKEN="$token" gitlab-runner "${args[@]}" --tag-list "${RF_RUNNER_TAGS:-}" || status=$?
  else
    CI_SERVER_TOKEN="$token" gitlab-runner "${args[@]}" || status=$?
  fi
  token=""
  ((status == 0)) || die "gitlab-runner register failed (exit $status): check the token at $RF_TOKEN_SOURCE and that $RF_GITLAB_URL is reachable"
  chmod 0600 "$RF_RUNNER_CONFIG"
  log_info "registered runner $name ($executor)"
}

# runner_verify: `gitlab-runner verify` exits 0 with no runners at all, so
# also require a [[runners]] entry.
runner_verify() {
  runner_is_registered || die "config.toml has no [[runners]] entry; registration did not happen"
  local attempt=1
  until gitlab-runner verify --config "$RF_RUNNER_CONFIG"; do
    ((attempt < RF_VERIFY_ATTEMPTS)) ||
      die "gitlab-runner verify failed $attempt times: the token was rejected or $RF_GITLAB_URL is unreachable"
    sleep "$((RF_RETRY_BASE_SECONDS * attempt))"
    attempt=$((attempt + 1))
  done
  log_info "gitlab-runner verify succeeded"
}

# runner_install_dropin MAX_DRAIN_SECONDS: systemd stop = SIGQUIT (stop
# taking jobs, exit when running jobs end), never SIGTERM (aborts jobs).
# TimeoutStopSec outlasts the longest drain so systemd never escalates early.
runner_install_dropin() {
  local max_drain="$1"
  write_if_changed "$RF_SYSTEMD_DIR/$RF_RUNNER_SERVICE.d/10-runner-fleet-drain.conf" 0644 <<UNIT || return 0
# runner-fleet: graceful drain on stop (see runner_configs/README.md).
[Service]
KillSignal=SIGQUIT
KillMode=process
TimeoutStopSec=$((max_drain + RF_FORCED_STOP_WAIT_SECONDS + 60))
StandardOutput=append:$RF_LOG_DIR/gitlab-runner.log
StandardError=append:$RF_LOG_DIR/gitlab-runner.log
UNIT
  systemctl daemon-reload
}

# runner_service_start: enable and start the service, wait until active.
runner_service_start() {
  systemctl is-enabled --quiet "$RF_RUNNER_SERVICE" || systemctl enable --quiet "$RF_RUNNER_SERVICE"
  systemctl is-active --quiet "$RF_RUNNER_SERVICE" || systemctl start "$RF_RUNNER_SERVICE"
  local waited=0
  until systemctl is-active --quiet "$RF_RUNNER_SERVICE"; do
    ((waited < RF_SERVICE_START_TIMEOUT_SECONDS)) || die "$RF_RUNNER_SERVICE not active after ${waited}s"
    sleep 1
    waited=$((waited + 1))
  done
}

# runner_service_restart: after register, so the process that runs uses this
# host's .runner_system_id, the drop-in and the new [[runners]] entry even
# when the package's post-install started it earlier. No job has run yet.
runner_service_restart() {
  systemctl daemon-reload
  log_info "restarting $RF_RUNNER_SERVICE to apply system_id, drop-in and registration"
  systemctl restart "$RF_RUNNER_SERVICE"
}

# runner_unit_state: read the unit's ActiveState, SubState and MainPID into
# RF_RUNNER_ACTIVE_STATE, RF_RUNNER_SUB_STATE and RF_RUNNER_MAIN_PID (in the
# caller's shell). Fails when systemctl gives no usable answer. Keys are
# matched by name: systemctl prints them in its own order, not the -p order.
runner_unit_state() {
  local out key value
  RF_RUNNER_ACTIVE_STATE="" RF_RUNNER_SUB_STATE="" RF_RUNNER_MAIN_PID=""
  out="$(systemctl show -p ActiveState,SubState,MainPID "$RF_RUNNER_SERVICE" 2>/dev/null)" || return 1
  while IFS='=' read -r key value; do
    case "$key" in
      ActiveState) RF_RUNNER_ACTIVE_STATE="$value" ;;
      SubState) RF_RUNNER_SUB_STATE="$value" ;;
      MainPID) RF_RUNNER_MAIN_PID="$value" ;;
    esac
  done <<<"$out"
  [[ "$RF_RUNNER_MAIN_PID" =~ ^[0-9]+$ && -n "$RF_RUNNER_ACTIVE_STATE" ]]
}

# runner_main_running: true while the runner's main process lives. Never
# `systemctl is-active`: while a SIGQUIT stop lets jobs finish the unit is
# `deactivating` and is-active prints that and exits 3, as if it had
# stopped. When systemctl gives no answer the runner counts as running: a
# drain then keeps waiting (and heartbeating) until its deadline rather than
# unregistering under running jobs.
runner_main_running() {
  runner_unit_state || return 0
  ((RF_RUNNER_MAIN_PID > 0))
}

# runner_metric NAME: sum of one metric over all label sets; fails when the
# endpoint does not answer.
runner_metric() {
  local name="$1" text
  text="$(curl -fsS --max-time 2 "$RF_RUNNER_METRICS_URL")" || return 1
  awk -v m="$name" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%d\n", s }' <<<"$text"
}
runner_busy_jobs() { runner_metric gitlab_runner_jobs; }

# runner_drain_begin: stop taking new jobs now. With the drop-in, systemd
# sends SIGQUIT; --no-block returns at once so the caller can heartbeat.
runner_drain_begin() {
  runner_install_dropin "$RF_MAX_DRAIN_SECONDS"
  log_info "stopping $RF_RUNNER_SERVICE with SIGQUIT: no new jobs, running jobs continue"
  systemctl stop --no-block "$RF_RUNNER_SERVICE"
}

# runner_force_stop [MAX_WAIT [ON_WAIT...]]: the drain ran out of time; SIGTERM to the
# runner's main process (--kill-whom=main: job processes are not signalled
# directly, the runner aborts them and reports them failed to GitLab instead
# of leaving them running until timeout). Waits at most MAX_WAIT seconds
# (default RF_FORCED_STOP_WAIT_SECONDS) for the main process to exit, running
# ON_WAIT (e.g. the drain's heartbeat) between checks.
runner_force_stop() {
  local max_wait="${1:-$RF_FORCED_STOP_WAIT_SECONDS}"
  (($# == 0)) || shift
  ((max_wait <= RF_FORCED_STOP_WAIT_SECONDS)) || max_wait="$RF_FORCED_STOP_WAIT_SECONDS"
  if ! runner_main_running; then
    log_info "$RF_RUNNER_SERVICE has no main process left; nothing to force"
    return 0
  fi
  log_warn "sending SIGTERM to $RF_RUNNER_SERVICE (main PID ${RF_RUNNER_MAIN_PID:-?}, $RF_RUNNER_ACTIVE_STATE/$RF_RUNNER_SUB_STATE): running jobs are aborted (waiting up to ${max_wait}s)"
  systemctl kill --kill-whom=main --signal=SIGTERM "$RF_RUNNER_SERVICE" || true
  # Wall-clock bound: the caller's spot deadline depends on it.
  local until=$(($(now_epoch) + max_wait))
  while runner_main_running && (($(now_epoch) < until)); do
    (($# == 0)) || "$@" || true
    sleep 0.5
  done
  if runner_main_running; then
    log_warn "$RF_RUNNER_SERVICE main process still running after ${max_wait}s; unregistering anyway"
  else
    log_info "$RF_RUNNER_SERVICE main process exited after SIGTERM"
  fi
  return 0
}

# runner_unregister [MAX_SECONDS]: remove this host's runner manager only.
# With glrt- tokens `unregister --all-runners` calls DELETE
# /api/v4/runners/managers with this host's system_id (commands/unregister.go),
# leaving other instances of the same runner alone. Bounded in time
# (default RF_UNREGISTER_TIMEOUT_SECONDS): GitLab not answering must not hold
# the drain.
runner_unregister() {
  local bound="${1:-$RF_UNREGISTER_TIMEOUT_SECONDS}" status=0
  ((bound >= 1)) || bound=1
  if ! runner_is_registered; then
    log_info "no runner in config.toml; nothing to unregister"
    return 0
  fi
  timeout --kill-after=2 "$bound" gitlab-runner unregister --config "$RF_RUNNER_CONFIG" --all-runners || status=$?
  if ((status == 124 || status == 137)); then
    log_error "gitlab-runner unregister did not finish within ${bound}s (GitLab not answering); stopped it"
    return 1
  fi
  ((status == 0)) || return 1
  # gitlab-runner logs a failed unregister but keeps the entry and exits 0.
  if runner_is_registered; then
    log_error "gitlab-runner unregister left the runner in config.toml"
    return 1
  fi
  log_info "runner manager unregistered"
}

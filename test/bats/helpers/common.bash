# Shared setup for the instance-script scenarios: a temp root with every
# production path redirected, the IMDS double on a free port, recording
# stubs first on PATH, fixture packages for the runner download, and short
# intervals through the scripts' environment overrides.

REPO_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
# RF_TEST_LINUX_DIR runs the scenarios against another copy of the scripts
# (to show that a new test fails on the version before a fix).
LINUX_DIR="${RF_TEST_LINUX_DIR:-$REPO_ROOT/runner_configs/linux}"
IMDS_DOUBLE="$REPO_ROOT/test/doubles/imds/imds_double.py"
TEST_TOKEN="glrt-TESTSECRET-7f3a9c2e1b"

fleet_setup() {
  T="$(mktemp -d "${BATS_TMPDIR:-/tmp}/rf.XXXXXX")"
  export STUB_DIR="$T/stub" STUB_LOG="$T/calls.log"
  mkdir -p "$STUB_DIR" "$T/bin" "$T/etc" "$T/fixtures"
  : >"$STUB_LOG"
  for cmd in aws gitlab-runner systemctl dnf needs-restarting amazon-cloudwatch-agent-ctl docker curl uname iptables ip6tables; do
    ln -s "$REPO_ROOT/test/bats/helpers/stub.sh" "$T/bin/$cmd"
  done
  export PATH="$T/bin:$PATH"
  printf '%s' "$TEST_TOKEN" >"$STUB_DIR/token"
  printf '%s' "$TEST_TOKEN" >"$STUB_DIR/valid-token"
  set_jobs 0

  export RF_ENV_FILE="$T/etc/fleet.env" RF_INSTALL_DIR="$LINUX_DIR" RF_STATE_DIR="$T/state" \
    RF_LOG_DIR="$T/log" RF_RUNNER_CONFIG_DIR="$T/gitlab-runner" RF_SYSTEMD_DIR="$T/systemd" \
    RF_CWAGENT_CONFIG_DIR="$T/cwagent" RF_RUNNER_METRICS_URL="file://$STUB_DIR/metrics" \
    RF_RUNNER_DOWNLOAD_BASE="file://$T/fixtures" STUB_DOWNLOAD_BASE="file://$T/fixtures" \
    RF_MEMINFO_FILE="$REPO_ROOT/test/bats/fixtures/meminfo"
  export RF_POLL_INTERVAL_SECONDS=1 RF_HEARTBEAT_INTERVAL_SECONDS=1 RF_METRICS_INTERVAL_SECONDS=1 \
    RF_RETRY_BASE_SECONDS=1 RF_RETRY_ATTEMPTS=4 RF_FORCED_STOP_WAIT_SECONDS=2 RF_SERVICE_START_TIMEOUT_SECONDS=3 \
    RF_VERIFY_ATTEMPTS=2 RF_SPOT_UNREGISTER_RESERVE_SECONDS=1 RF_IMDS_MAX_TIME_SECONDS=2
  write_env RF_STACK_NAME=runners-test
  make_runner_fixtures
  start_imds
}

fleet_teardown() {
  [[ -n "${AGENT_PID:-}" ]] && kill "$AGENT_PID" 2>/dev/null
  [[ -n "${IMDS_PID:-}" ]] && kill "$IMDS_PID" 2>/dev/null
  [[ -n "${JOB_PID:-}" ]] && kill "$JOB_PID" 2>/dev/null
  wait 2>/dev/null
  # The agent's background subshells (metrics, token watch) outlive it when only
  # its main process is killed (systemd kills the whole cgroup; a test must kill
  # the group), and would write into $T while it is removed.
  local group i
  for group in "${AGENT_GROUPS[@]}"; do
    kill -KILL -- "-$group" 2>/dev/null || continue
    for ((i = 0; i < 100; i++)); do
      kill -0 -- "-$group" 2>/dev/null || break
      sleep 0.05
    done
  done
  AGENT_GROUPS=()
  rm -rf "$T"
}

# write_env [KEY=VALUE...]: the contract's fleet.env, with overrides.
write_env() {
  {
    cat <<ENV
RF_STACK_NAME=runners-test
RF_REGION=eu-west-1
RF_LOG_GROUP=/runner-fleet/runners-test
RF_GITLAB_URL=https://gitlab.example.com
RF_RUNNER_VERSION=17.11.1
RF_EXECUTOR=shell
RF_CONCURRENT=4
RF_DOCKER_IMAGE=alpine:3.20
RF_CACHE_BUCKET=runners-test-cache
RF_TOKEN_SOURCE=ssm:/runner-fleet/test/token
RF_TOKEN_KIND=authentication
RF_RUNNER_TAGS=
RF_PATCH_SCOPE=security
RF_LAUNCH_HOOK=runner-fleet-launch
RF_TERMINATE_HOOK=runner-fleet-terminate
RF_HEARTBEAT_TIMEOUT=600
RF_MAX_DRAIN_SECONDS=30
RF_METRICS_NAMESPACE=RunnerFleet
ENV
    local kv
    for kv in "$@"; do printf '%s\n' "$kv"; done
  } | awk -F= '{ last[$1] = $0; if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 } }
              END { for (i = 1; i <= n; i++) print last[order[i]] }' >"$RF_ENV_FILE"
}

# The file names GitLab publishes (gitlab-runner ci/release_dir): before
# v18.9.0 the x86_64 rpm is gitlab-runner_amd64.rpm (aarch64 and arm64 both
# exist); from v18.9.0 on, and so for latest, only the RPM-native x86_64 and
# aarch64. A wrong name is a missing file here, as it is a 403 on S3.
make_runner_fixtures() {
  local ref dir arch
  for ref in latest v17.11.1; do
    dir="$T/fixtures/$ref"
    mkdir -p "$dir/rpm"
    if [[ "$ref" == latest ]]; then
      for arch in x86_64 aarch64; do echo "fake runner rpm $ref $arch" >"$dir/rpm/gitlab-runner_$arch.rpm"; done
    else
      for arch in amd64 aarch64 arm64; do echo "fake runner rpm $ref $arch" >"$dir/rpm/gitlab-runner_$arch.rpm"; done
    fi
    echo "fake helper images $ref" >"$dir/rpm/gitlab-runner-helper-images.rpm"
    (cd "$dir" && sha256sum --binary rpm/*.rpm >release.sha256)
  done
}

start_imds() {
  python3 "$IMDS_DOUBLE" --port-file "$T/imds.port" &
  IMDS_PID=$!
  local i
  for i in $(seq 1 50); do
    [[ -s "$T/imds.port" ]] && break
    sleep 0.1
  done
  IMDS_URL="http://127.0.0.1:$(cat "$T/imds.port")"
  export AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS_URL"
}

# imds_set JSON: switch the double's state.
imds_set() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$IMDS_URL/_control/state" >/dev/null; }

# set_jobs N: what the runner's metrics endpoint reports as running jobs.
set_jobs() {
  printf 'gitlab_runner_concurrent 4\ngitlab_runner_jobs{runner="abc",system_id="s_56789abcdef0",state="running"} %s\n' "$1" \
    >"$STUB_DIR/metrics.tmp"
  mv "$STUB_DIR/metrics.tmp" "$STUB_DIR/metrics"
}

# mark EVENT: put a test event into the call log, to check ordering.
mark() { printf 'EVENT %s\n' "$1" >>"$STUB_LOG"; }

runner_running() { mkdir -p "$STUB_DIR/units" && touch "$STUB_DIR/units/gitlab-runner.service.active"; }

# unit_active_state UNIT: the stub's ActiveState of UNIT, without recording a call.
unit_active_state() {
  local f="$STUB_DIR/units/$1.state"
  if [[ -e "$STUB_DIR/units/$1.active" ]]; then echo active
  elif [[ -f "$f" ]]; then cut -d' ' -f1 "$f"
  else echo inactive; fi
}

# start_agent: the agent in a process group of its own, so teardown can stop
# everything it started.
AGENT_GROUPS=()
start_agent() {
  setsid "$LINUX_DIR/lifecycle-agent.sh" >>"$T/agent.out" 2>&1 &
  AGENT_PID=$!
  AGENT_GROUPS+=("$AGENT_PID")
}

# wait_for_agent SECONDS: the agent exits by itself after a drain.
wait_for_agent() {
  local limit="$1" i
  for ((i = 0; i < limit * 10; i++)); do
    # shellcheck disable=SC2034 # AGENT_STATUS is read by the tests
    kill -0 "$AGENT_PID" 2>/dev/null || {
      AGENT_STATUS=0
      wait "$AGENT_PID" || AGENT_STATUS=$?
      AGENT_PID=""
      return 0
    }
    sleep 0.1
  done
  echo "agent still running after ${limit}s; output:" >&2
  cat "$T/agent.out" >&2
  return 1
}

# wait_for_call PATTERN SECONDS
wait_for_call() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    grep -qE -e "$1" "$STUB_LOG" && return 0
    sleep 0.1
  done
  echo "no call matching /$1/ within $2 s; calls:" >&2
  cat "$STUB_LOG" >&2
  return 1
}

# line_of PATTERN: line number of the first call matching PATTERN (0 if none).
line_of() { grep -nE -e "$1" "$STUB_LOG" | head -1 | cut -d: -f1 | grep . || echo 0; }

count_calls() { grep -cE -e "$1" "$STUB_LOG" || true; }

# A registered instance, as the bootstrap leaves it.
registered_instance() {
  mkdir -p "$RF_RUNNER_CONFIG_DIR"
  printf 'concurrent = 4\n\n[[runners]]\n  name = "stub"\n  token = "%s"\n' "$TEST_TOKEN" >"$RF_RUNNER_CONFIG_DIR/config.toml"
  runner_running
}

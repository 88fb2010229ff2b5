#!/usr/bin/env bash
# Benchmark: how long an idle instance takes from the Auto Scaling group's
# Terminating:Wait (target-lifecycle-state = Terminated in IMDS) to the
# complete-lifecycle-action CONTINUE call, measured, with the production
# intervals. The lifecycle agent runs as it does on an instance, against the
# IMDS double (test/doubles/imds) and the recording stubs of the bats suite
# (test/bats/helpers/stub.sh: aws, gitlab-runner, and a systemctl that keeps
# systemd's unit states).
#
# Two phases of the transition against the agent's polling:
#   worst    the state turns Terminated right after the agent read InService
#            (the double flips it just after answering that read);
#   typical  the state turns Terminated at moments spread over 5 s (the
#            longest poll period before the fix) after the agent's first
#            round: the median over those phases.
# The clock starts when the double changes the state (its own timestamp) and
# stops when the stubbed AWS CLI is called with complete-lifecycle-action.
# The stubs answer in milliseconds; on an instance the AWS CLI call itself
# adds its start-up time (about 0.5-1 s) to every figure.
#
# Usage: tools/bench-drain.sh [WORST_RUNS] [TYPICAL_RUNS]
#   RF_TEST_LINUX_DIR=<dir> benchmarks another copy of runner_configs/linux.
# Prints one line per run and a summary; exit 0 unless a run failed.
set -Eeuo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
worst_runs="${1:-5}"
typical_runs="${2:-10}"

# The bats scenario helpers (temp root, stubs first on PATH, IMDS double);
# they find the repository from BATS_TEST_DIRNAME.
export BATS_TEST_DIRNAME="$root/test/bats"
# shellcheck source=test/bats/helpers/common.bash
. "$root/test/bats/helpers/common.bash"

# run_once PHASE [OFFSET_MS]: one instance from start to CONTINUE; prints seconds.
run_once() {
  local phase="$1" offset_ms="${2:-0}" changed completed i
  fleet_setup
  # Production intervals: drop the suite's shortened ones.
  unset RF_POLL_INTERVAL_SECONDS RF_HEARTBEAT_INTERVAL_SECONDS RF_METRICS_INTERVAL_SECONDS \
    RF_RETRY_BASE_SECONDS RF_RETRY_ATTEMPTS RF_FORCED_STOP_WAIT_SECONDS RF_SERVICE_START_TIMEOUT_SECONDS \
    RF_VERIFY_ATTEMPTS RF_SPOT_UNREGISTER_RESERVE_SECONDS RF_IMDS_MAX_TIME_SECONDS
  export STUB_CLOCK_LOG="$T/clock.log"
  registered_instance
  # As the bootstrap leaves an instance: the drain drop-in is in place (its
  # drain length is fleet.env's RF_MAX_DRAIN_SECONDS).
  RF_MAX_DRAIN_SECONDS="$(sed -n 's/^RF_MAX_DRAIN_SECONDS=//p' "$RF_ENV_FILE")" bash -c \
    '. "$1/lib/common.sh"; . "$1/lib/runner.sh"; runner_install_dropin "$RF_MAX_DRAIN_SECONDS"' _ "$LINUX_DIR"
  start_agent
  wait_for_call 'set-instance-protection' 20 >/dev/null
  if [[ "$phase" == worst ]]; then
    imds_set '{"terminate_after_next_read":true}'
  else
    sleep "$((offset_ms / 1000)).$(printf '%03d' $((offset_ms % 1000)))"
    imds_set '{"lifecycle_state":"Terminated"}'
  fi
  if ! wait_for_agent 30 >/dev/null 2>&1; then
    echo "run failed: the agent did not finish; its output:" >&2
    cat "$T/agent.out" >&2
    fleet_teardown
    return 1
  fi
  changed="$(curl -fsS "$IMDS_URL/_control/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lifecycle_changed_at"])')"
  completed="$(awk '/complete-lifecycle-action .*CONTINUE/ { print $1; exit }' "$STUB_CLOCK_LOG")"
  for i in "$changed" "$completed"; do
    [[ "$i" =~ ^[0-9]+(\.[0-9]+)?$ ]] || {
      echo "run failed: no timestamp (changed='$changed' completed='$completed')" >&2
      fleet_teardown
      return 1
    }
  done
  fleet_teardown
  awk -v a="$changed" -v b="$completed" 'BEGIN { printf "%.2f\n", b - a }'
}

# summary NAME FIGURES...: min / median / max.
summary() {
  local name="$1"
  shift
  printf '%s\n' "$@" | sort -n | awk -v n="$name" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%-8s runs %d  min %.2f s  median %.2f s  max %.2f s\n", n, NR, v[1], m, v[NR] }'
}

echo "idle Terminating:Wait -> CONTINUE, scripts: ${RF_TEST_LINUX_DIR:-$root/runner_configs/linux}"
declare -a worst=() typical=()
for ((n = 1; n <= worst_runs; n++)); do
  figure="$(run_once worst)"
  echo "worst   run $n: ${figure} s"
  worst+=("$figure")
done
# Offsets step by 5 s / runs plus 37 ms, so that they also spread over a
# 1 s period instead of repeating one phase of it.
for ((n = 1; n <= typical_runs; n++)); do
  offset_ms=$(((n - 1) * (5000 / typical_runs + 37) % 5000))
  figure="$(run_once typical "$offset_ms")"
  echo "typical run $n (Terminated ${offset_ms} ms after the first round): ${figure} s"
  typical+=("$figure")
done
((${#worst[@]} == 0)) || summary worst "${worst[@]}"
((${#typical[@]} == 0)) || summary typical "${typical[@]}"

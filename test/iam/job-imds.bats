#!/usr/bin/env bats
# runner_configs/linux/lib/job-imds.sh for real: the iptables rules it builds,
# in a private network namespace (unshare --net) where a loopback address
# stands in for IMDS (169.254.169.254:80, an HTTP server). The job user here
# is nobody; root (the runner, the agents) and another user must still get
# through. Needs root, iptables with the owner match, python3 and curl (all
# installed by tools/setup.d/iptables.sh in CI).

bats_require_minimum_version 1.5.0

setup() {
  REPO_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
  LIB="$REPO_ROOT/runner_configs/linux/lib/job-imds.sh"
  T="$(mktemp -d "${BATS_TMPDIR:-/tmp}/rf-imds.XXXXXX")"
  export RF_LOG_DIR="$T/log" RF_STATE_DIR="$T/state"
  mkdir -p "$RF_LOG_DIR"
  chmod 0755 "$T"
  printf 'instance-role-credentials\n' >"$T/latest"
}

teardown() { rm -rf "$T"; }

# in_namespace SCRIPT: runs SCRIPT with bash in a new network namespace whose
# loopback also answers as IMDS (an HTTP server on 169.254.169.254:80).
in_namespace() {
  unshare --net bash -c "
    set -Eeuo pipefail
    ip link set lo up
    ip addr add 169.254.169.254/32 dev lo
    python3 -m http.server 80 --bind 169.254.169.254 --directory '$T' >/dev/null 2>&1 &
    server=\$!
    trap 'kill \$server' EXIT
    for _ in \$(seq 50); do curl -fsS -o /dev/null http://169.254.169.254/latest && break; sleep 0.1; done
    $1"
}

# as USER: the command line that runs curl against IMDS as USER (exit code of curl).
fetch_as() { echo "setpriv --reuid=$1 --regid=\$(id -g $1) --clear-groups curl -sS -m 3 http://169.254.169.254/latest"; }

@test "the job user is refused IMDS; root and other users still reach it" {
  [[ $(id -u) -eq 0 ]] || skip "needs root for a network namespace (CI runs as root)"
  run in_namespace "
    bash '$LIB' apply nobody
    echo root: \$(curl -sS -m 3 http://169.254.169.254/latest)
    echo daemon: \$($(fetch_as daemon))
    if $(fetch_as nobody) 2>'$T/job.err'; then echo job: reached; else echo job: refused \$?; fi
    cat '$T/job.err'
    iptables -S RF-JOB-IMDS
    iptables -S OUTPUT"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"root: instance-role-credentials"* ]]
  [[ "$output" == *"daemon: instance-role-credentials"* ]]
  # curl exit 7: could not connect (the REJECT answers at once, no timeout).
  [[ "$output" == *"job: refused 7"* ]]
  [[ "$output" == *"-A RF-JOB-IMDS -d 169.254.169.254/32 -m owner --uid-owner 65534 -j REJECT"* ]]
  [[ "$output" == *"-A OUTPUT -j RF-JOB-IMDS"* ]]
}

@test "applying twice leaves one rule and one jump" {
  [[ $(id -u) -eq 0 ]] || skip "needs root for a network namespace (CI runs as root)"
  run in_namespace "
    bash '$LIB' apply nobody
    bash '$LIB' apply nobody
    echo rules: \$(iptables -S RF-JOB-IMDS | grep -c -- '-A RF-JOB-IMDS')
    echo jumps: \$(iptables -S OUTPUT | grep -c -- '-j RF-JOB-IMDS')
    echo v6rules: \$(ip6tables -S RF-JOB-IMDS | grep -c -- '-d fd00:ec2::254/128')
    if $(fetch_as nobody) 2>/dev/null; then echo job: reached; else echo job: refused; fi"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"rules: 1"* ]]
  [[ "$output" == *"jumps: 1"* ]]
  [[ "$output" == *"v6rules: 1"* ]]
  [[ "$output" == *"job: refused"* ]]
}

@test "an unknown job user fails loudly instead of leaving IMDS open" {
  [[ $(id -u) -eq 0 ]] || skip "needs root for a network namespace (CI runs as root)"
  run in_namespace "bash '$LIB' apply no-such-user-rf"
  echo "$output"
  [ "$status" -ne 0 ]
}

# The job user comes from the runner unit's ExecStart, as systemd shows it.
@test "the job user is read from the runner unit's --user; without one the launch goes on with a warning" {
  run bash -c "
    set -Eeuo pipefail
    . '$REPO_ROOT/runner_configs/linux/lib/common.sh'
    . '$LIB'
    job_imds_block() { echo \"block \$1\"; }
    systemctl() { echo 'ExecStart={ path=/usr/bin/gitlab-runner ; argv[]=/usr/bin/gitlab-runner run --working-directory /home/gitlab-runner --service gitlab-runner --user gitlab-runner ; ignore_errors=no ; pid=0 }'; }
    job_imds_protect
    systemctl() { echo 'ExecStart={ path=/usr/bin/gitlab-runner ; argv[]=/usr/bin/gitlab-runner run --user=ci-jobs ; ignore_errors=no }'; }
    job_imds_protect
    systemctl() { echo 'ExecStart={ path=/usr/bin/gitlab-runner ; argv[]=/usr/bin/gitlab-runner run --config /etc/gitlab-runner/config.toml ; ignore_errors=no }'; }
    job_imds_protect
  "
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "block gitlab-runner" ]
  [ "${lines[1]}" = "block ci-jobs" ]
  [[ "$output" == *"has no --user: jobs run as the runner's own user and can reach IMDS"* ]]
  [[ "$output" != *"block "*"block "*"block "* ]]
}

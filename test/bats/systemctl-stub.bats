#!/usr/bin/env bats
# The systemctl stub (helpers/stub.sh) against a real systemd: the same
# SIGQUIT stop of a service that is still finishing a job, once through a
# real user manager (started as FACTS.md describes: a private mount
# namespace, a tmpfs on /run, `systemd --user`, a transient unit with
# KillSignal=SIGQUIT and KillMode=process) and once through the stub. Both
# must answer is-active and show alike while the job runs and after it ends.

load helpers/common
bats_require_minimum_version 1.5.0

setup() { fleet_setup; }
teardown() { fleet_teardown; }

# The scenario, run by real_systemd_scenario inside the namespace: a fake
# runner that, on SIGQUIT, finishes its "job" in 3 s and exits 0. Prints
# "is-active <exit> <output>" and the show lines, during and after the job.
real_systemd_scenario() {
  cat <<'SCENARIO'
set -Eeuo pipefail
mount -t tmpfs -o mode=0755 stubcheck-run /run
mkdir -p /run/user/0 /run/systemd/system
chmod 0700 /run/user/0
export XDG_RUNTIME_DIR=/run/user/0
# The real systemctl, not the stub first on PATH.
sc() { /usr/bin/systemctl --user "$@"; }
/lib/systemd/systemd --user >/dev/null 2>&1 &
for _ in $(seq 1 100); do
  sc is-system-running >/dev/null 2>&1 && break
  state="$(sc is-system-running 2>/dev/null || true)"
  [[ "$state" == degraded || "$state" == starting ]] && break
  sleep 0.1
done
systemd-run --user --quiet --unit=fake-runner -p KillSignal=SIGQUIT -p KillMode=process \
  bash -c 'trap "sleep 3; exit 0" QUIT; while :; do sleep 0.2; done'
sleep 0.5
sc stop --no-block fake-runner.service
sleep 1
status=0
out="$(sc is-active fake-runner.service)" || status=$?
echo "during is-active $status $out"
sc show -p ActiveState,SubState,MainPID fake-runner.service | sed 's/^/during /'
sleep 4
status=0
out="$(sc is-active fake-runner.service)" || status=$?
echo "after is-active $status $out"
sc show -p ActiveState,SubState,MainPID fake-runner.service | sed 's/^/after /'
sc exit >/dev/null 2>&1 || true
SCENARIO
}

# The same steps through the stub, busy while the job runs.
stub_scenario() {
  local status out
  runner_running
  set_jobs 1
  systemctl stop --no-block gitlab-runner.service
  status=0
  out="$(systemctl is-active gitlab-runner.service)" || status=$?
  echo "during is-active $status $out"
  systemctl show -p ActiveState,SubState,MainPID gitlab-runner.service | sed 's/^/during /'
  set_jobs 0
  status=0
  out="$(systemctl is-active gitlab-runner.service)" || status=$?
  echo "after is-active $status $out"
  systemctl show -p ActiveState,SubState,MainPID gitlab-runner.service | sed 's/^/after /'
}

# normalize: any non-zero MainPID becomes "MainPID=<pid>".
normalize() { sed -E 's/MainPID=[1-9][0-9]*/MainPID=<pid>/'; }

@test "the systemctl stub answers like systemd during and after a SIGQUIT stop with a job running" {
  if ((EUID != 0)) || ! command -v unshare >/dev/null || [[ ! -x /lib/systemd/systemd ]] || ! command -v systemd-run >/dev/null; then
    skip "needs root, unshare and systemd (Debian package systemd) for a real user manager"
  fi
  if ! unshare --mount --propagation private true 2>/dev/null; then
    skip "this machine does not allow a private mount namespace (unshare --mount)"
  fi
  real="$(unshare --mount --propagation private bash -c "$(real_systemd_scenario)" | normalize)"
  stub="$(stub_scenario | normalize)"
  echo "real systemd:"
  echo "$real"
  echo "stub:"
  echo "$stub"
  # The facts the drain relies on, from the real systemd ...
  [[ "$real" == *"during is-active 3 deactivating"* ]]
  [[ "$real" == *"during ActiveState=deactivating"* && "$real" == *"during MainPID=<pid>"* ]]
  [[ "$real" == *"after MainPID=0"* ]]
  # ... and the stub says the same, line for line and in the same order.
  [ "$real" = "$stub" ]
}

# The runner unit's ExecStart as a real user manager shows it, for a unit
# started the way the runner package's service starts (`run ... --user
# gitlab-runner`), read by job_imds_user; then the same through the stub.
real_exec_start_scenario() {
  cat <<SCENARIO
set -Eeuo pipefail
mount -t tmpfs -o mode=0755 stubcheck-run /run
mkdir -p /run/user/0 /run/systemd/system
chmod 0700 /run/user/0
export XDG_RUNTIME_DIR=/run/user/0
/lib/systemd/systemd --user >/dev/null 2>&1 &
for _ in \$(seq 1 100); do
  state="\$(/usr/bin/systemctl --user is-system-running 2>/dev/null || true)"
  [[ "\$state" == running || "\$state" == degraded || "\$state" == starting ]] && break
  sleep 0.1
done
systemd-run --user --quiet --unit=gitlab-runner /bin/sh -c 'sleep 30' gitlab-runner run \
  --working-directory /home/gitlab-runner --config /etc/gitlab-runner/config.toml --service gitlab-runner --user gitlab-runner
. '$LINUX_DIR/lib/common.sh'
. '$LINUX_DIR/lib/job-imds.sh'
systemctl() { /usr/bin/systemctl --user "\$@"; }
echo "job user: \$(job_imds_user)"
/usr/bin/systemctl --user stop gitlab-runner.service >/dev/null 2>&1 || true
/usr/bin/systemctl --user exit >/dev/null 2>&1 || true
SCENARIO
}

@test "the job user is read alike from a real systemd's ExecStart and from the stub's" {
  if ((EUID != 0)) || ! command -v unshare >/dev/null || [[ ! -x /lib/systemd/systemd ]] || ! command -v systemd-run >/dev/null; then
    skip "needs root, unshare and systemd (Debian package systemd) for a real user manager"
  fi
  real="$(unshare --mount --propagation private bash -c "$(real_exec_start_scenario)")"
  stub="$(bash -c ". '$LINUX_DIR/lib/common.sh'; . '$LINUX_DIR/lib/job-imds.sh'; echo \"job user: \$(job_imds_user)\"")"
  echo "real: $real"
  echo "stub: $stub"
  [ "$real" = "job user: gitlab-runner" ]
  [ "$stub" = "$real" ]
}

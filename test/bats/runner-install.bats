#!/usr/bin/env bats
# runner_install downloads the package names GitLab publishes in the
# gitlab-runner-downloads bucket (ci/release_dir of gitlab-runner): the
# exact URLs for x86_64 and aarch64, pinned (before v18.9.0) and latest.

load helpers/common

setup() {
  fleet_setup
  export RF_RETRY_ATTEMPTS=1 # file:// downloads need no retries
  # shellcheck disable=SC1091 # the libraries are checked on their own
  . "$LINUX_DIR/lib/common.sh"
  # shellcheck disable=SC1091
  . "$LINUX_DIR/lib/packages.sh"
  # shellcheck disable=SC1091
  . "$LINUX_DIR/lib/runner.sh"
}
teardown() { fleet_teardown; }

# install_on MACHINE VERSION: a fresh install as uname -m = MACHINE.
install_on() {
  echo "$1" >"$STUB_DIR/machine"
  rm -f "$STUB_DIR/runner-installed"
  : >"$STUB_LOG"
  run runner_install "$2"
  echo "$output"
  cat "$STUB_LOG"
}

@test "x86_64, pinned 17.11.1: rpm/gitlab-runner_amd64.rpm and the helper images" {
  install_on x86_64 17.11.1
  [ "$status" -eq 0 ]
  base="file://$T/fixtures/v17.11.1"
  [ "$(grep '^curl GET' "$STUB_LOG")" = "curl GET $base/rpm/gitlab-runner-helper-images.rpm
curl GET $base/rpm/gitlab-runner_amd64.rpm
curl GET $base/release.sha256" ]
  grep -q '^dnf install -y -q .*/rpm/gitlab-runner-helper-images.rpm .*/rpm/gitlab-runner_amd64.rpm$' "$STUB_LOG"
}

@test "aarch64, pinned 17.11.1: rpm/gitlab-runner_aarch64.rpm" {
  install_on aarch64 17.11.1
  [ "$status" -eq 0 ]
  grep -qx "curl GET file://$T/fixtures/v17.11.1/rpm/gitlab-runner_aarch64.rpm" "$STUB_LOG"
  grep -qx "curl GET file://$T/fixtures/v17.11.1/rpm/gitlab-runner-helper-images.rpm" "$STUB_LOG"
}

@test "x86_64 and aarch64, latest (v18.9.0 and later): RPM-native x86_64 / aarch64 names" {
  install_on x86_64 latest
  [ "$status" -eq 0 ]
  grep -qx "curl GET file://$T/fixtures/latest/rpm/gitlab-runner_x86_64.rpm" "$STUB_LOG"
  install_on aarch64 latest
  [ "$status" -eq 0 ]
  grep -qx "curl GET file://$T/fixtures/latest/rpm/gitlab-runner_aarch64.rpm" "$STUB_LOG"
}

@test "package architecture names: rpm by version, deb always amd64 / arm64" {
  [ "$(runner_package_arch rpm x86_64 17.11.1)" = amd64 ]
  [ "$(runner_package_arch rpm x86_64 18.8.2)" = amd64 ]
  [ "$(runner_package_arch rpm x86_64 18.9.0)" = x86_64 ]
  [ "$(runner_package_arch rpm x86_64 18.10.1)" = x86_64 ]
  [ "$(runner_package_arch rpm x86_64 latest)" = x86_64 ]
  [ "$(runner_package_arch rpm aarch64 17.11.1)" = aarch64 ]
  [ "$(runner_package_arch rpm aarch64 latest)" = aarch64 ]
  [ "$(runner_package_arch deb x86_64 latest)" = amd64 ]
  [ "$(runner_package_arch deb aarch64 17.11.1)" = arm64 ]
  run runner_package_arch rpm s390x latest
  [ "$status" -ne 0 ]
}

@test "a package missing from the release (wrong name) fails the install with a clear message" {
  rm "$T/fixtures/v17.11.1/rpm/gitlab-runner_amd64.rpm"
  install_on x86_64 17.11.1
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot download file://$T/fixtures/v17.11.1/rpm/gitlab-runner_amd64.rpm"* ]]
  [ "$(count_calls '^dnf install')" -eq 0 ]
}

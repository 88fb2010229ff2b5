#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Bootstrap of a shell-executor runner instance (Amazon Linux 2023, Ubuntu 24.04).
# Run as root by the UserData bootstrap from /opt/runner-fleet; safe to run twice.
set -Eeuo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib/bootstrap.sh"

# Jobs run as the gitlab-runner user on the host: they need git.
executor_prepare() {
  command -v git >/dev/null 2>&1 || pkg_install git
}

executor_template() {
  {
    printf '[[runners]]\n  executor = "shell"\n'
    runner_cache_toml
  } | runner_settings_apply
}

executor_name() { echo shell; }

executor_register_args() { :; }

bootstrap_main "$here/shell.sh"

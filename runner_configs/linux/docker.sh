#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Bootstrap of a docker-executor runner instance (Amazon Linux 2023, Ubuntu 24.04).
# Run as root by the UserData bootstrap from /opt/runner-fleet; safe to run twice.
set -Eeuo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib/bootstrap.sh"

executor_prepare() {
  if ! command -v docker >/dev/null 2>&1; then
    if [[ "$(pkg_kind)" == deb ]]; then pkg_install docker.io; else pkg_install docker; fi
  fi
  systemctl is-enabled --quiet docker.service || systemctl enable --quiet docker.service
  systemctl is-active --quiet docker.service || systemctl start docker.service
}

executor_template() {
  {
    runner_docker_toml docker 'shm_size = 0'
    runner_cache_toml
  } | runner_settings_apply
}

executor_name() { echo docker; }

executor_register_args() {
  printf '%s\n' --docker-image "${RF_DOCKER_IMAGE:-alpine:3.20}"
}

bootstrap_main "$here/docker.sh"

#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Bootstrap of a docker-executor runner instance (Amazon Linux 2023, Ubuntu 24.04).
# Run as root by the UserData bootstrap from /opt/runner-fleet; safe to run twice.
set -Eeuo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib/common.sh"
. "$here/lib/imds.sh"
. "$here/lib/lifecycle.sh"
. "$here/lib/runner.sh"
. "$here/lib/bootstrap.sh"
. "$here/lib/extras.sh"

executor_prepare() {
  if ! command -v docker >/dev/null 2>&1; then
    if [[ "$(_pkg_kind)" == deb ]]; then pkg_install docker.io; else pkg_install docker; fi
  fi
  systemctl is-enabled --quiet docker.service || systemctl enable --quiet docker.service
  systemctl is-active --quiet docker.service || systemctl start docker.service
}

executor_template() {
  {
    cat <<TOML
[[runners]]
  executor = "docker"
  [runners.docker]
    image = "${RF_DOCKER_IMAGE:-alpine:3.20}"
    privileged = false
    volumes = ["/cache"]
    shm_size = 0
TOML
    runner_cache_toml
  } | runner_settings_apply
}

executor_name() { echo docker; }

executor_register_args() {
  printf '%s\n' --docker-image "${RF_DOCKER_IMAGE:-alpine:3.20}"
}

bootstrap_main "$here/docker.sh"

#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Bootstrap of a docker-autoscaler manager (FleetMode docker-autoscaler;
# Amazon Linux 2023, Ubuntu 24.04): gitlab-runner with the docker-autoscaler
# executor and fleeting-plugin-aws scales the stack's worker group from zero
# and runs each job's containers on a worker over SSH. The manager runs no
# job itself, so it needs no Docker. Its drain is the lifecycle agent's, as on
# every instance: SIGQUIT stops taking jobs and the runner exits once the
# jobs on the workers end (commands/multi.go handleGracefulShutdown), then
# deletes its workers (delete_instances_on_shutdown).
# Run as root by the UserData bootstrap from /opt/runner-fleet; safe to run twice.
set -Eeuo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib/bootstrap.sh"
. "$here/lib/fleeting.sh"

executor_prepare() {
  fleeting_settings
  fleeting_suspend_az_rebalance
  fleeting_service_dropin
}

executor_template() {
  {
    runner_docker_toml docker-autoscaler
    runner_cache_toml
    fleeting_autoscaler_toml
  } | runner_settings_apply
}

executor_name() { echo docker-autoscaler; }

executor_register_args() {
  printf '%s\n' --docker-image "${RF_DOCKER_IMAGE:-alpine:3.20}"
}

# After register (the plugin reference is then in config.toml), before the
# runner restarts with it.
executor_after_register() { fleeting_install_plugin; }

bootstrap_main "$here/docker-autoscaler.sh"

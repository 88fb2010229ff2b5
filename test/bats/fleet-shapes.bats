#!/usr/bin/env bats
# docker-autoscaler.sh (the manager of FleetMode docker-autoscaler) and the
# extra runner settings (lib/extras.sh, lib/runner_settings.py)
# against the IMDS double and the stubs of helpers/stub.sh.

load helpers/common
bats_require_minimum_version 1.5.0

setup() { fleet_setup; }
teardown() { fleet_teardown; }

manager_env() {
  write_env RF_EXECUTOR=docker-autoscaler RF_WORKER_GROUP=runners-test-workers RF_WORKER_USER=ec2-user \
    RF_WORKER_CAPACITY_PER_INSTANCE=2 RF_WORKER_MAX_USE_COUNT=1 RF_WORKER_MAX_INSTANCES=15 \
    RF_WORKER_IDLE_COUNT=3 RF_WORKER_IDLE_TIME_SECONDS=900 'RF_WORKER_IDLE_PERIODS=* 7-18 * * mon-fri;* 9-12 * * sat' \
    RF_WORKER_TIME_ZONE=Europe/Berlin
}

@test "manager: AZRebalance off on the worker group, plugin installed after register and before the restart" {
  manager_env
  run "$LINUX_DIR/docker-autoscaler.sh"
  echo "$output"
  [ "$status" -eq 0 ]
  suspend=$(line_of '^aws --region eu-west-1 autoscaling suspend-processes --auto-scaling-group-name runners-test-workers --scaling-processes AZRebalance')
  register=$(line_of '^gitlab-runner register .*--executor docker-autoscaler --docker-image alpine:3.20')
  install=$(line_of "^gitlab-runner fleeting --config $RF_RUNNER_CONFIG_DIR/config.toml install")
  restart=$(line_of '^systemctl restart gitlab-runner.service')
  complete=$(line_of 'complete-lifecycle-action --lifecycle-hook-name runner-fleet-launch .*CONTINUE')
  echo "suspend=$suspend register=$register install=$install restart=$restart complete=$complete"
  [ "$suspend" -gt 0 ]
  [ "$register" -gt "$suspend" ]
  [ "$install" -gt "$register" ]
  [ "$restart" -gt "$install" ]
  [ "$complete" -gt "$restart" ]
  # concurrent = every slot of every worker.
  grep -qx 'concurrent = 30' "$RF_RUNNER_CONFIG_DIR/config.toml"
  dropin="$RF_SYSTEMD_DIR/gitlab-runner.service.d/20-runner-fleet-fleeting.conf"
  grep -qx "Environment=FLEETING_PLUGIN_PATH=$RF_STATE_DIR/fleeting-plugins" "$dropin"
  grep -qx 'Environment=AWS_REGION=eu-west-1' "$dropin"
}

@test "manager: the [runners.autoscaler] block carries the worker settings and both idle policies" {
  manager_env
  run "$LINUX_DIR/docker-autoscaler.sh"
  [ "$status" -eq 0 ]
  template="$RF_STATE_DIR/runner-template.toml"
  cat "$template"
  grep -qx '  executor = "docker-autoscaler"' "$template"
  grep -qx '    plugin = "aws:latest"' "$template"
  grep -qx '    capacity_per_instance = 2' "$template"
  grep -qx '    max_use_count = 1' "$template"
  grep -qx '    max_instances = 15' "$template"
  grep -qx '    delete_instances_on_shutdown = true' "$template"
  grep -qxF '    instance_ready_command = "cloud-init status --wait || test $? -eq 2"' "$template"
  grep -qx '      name = "runners-test-workers"' "$template"
  grep -qx '      username = "ec2-user"' "$template"
  grep -qx '      periods = \["\* 7-18 \* \* mon-fri", "\* 9-12 \* \* sat"\]' "$template"
  [ "$(grep -c 'timezone = "Europe/Berlin"' "$template")" -eq 2 ]
  grep -qx '      idle_count = 3' "$template"
  [ "$(grep -c 'idle_time = "900s"' "$template")" -eq 2 ]
}

@test "manager: a missing worker setting stops the launch with ABANDON" {
  write_env RF_EXECUTOR=docker-autoscaler RF_WORKER_USER=ec2-user RF_WORKER_CAPACITY_PER_INSTANCE=1 RF_WORKER_MAX_INSTANCES=5
  run "$LINUX_DIR/docker-autoscaler.sh"
  [ "$status" -ne 0 ]
  [[ "$output" == *"missing in $RF_ENV_FILE: RF_WORKER_GROUP"* ]]
  [ "$(count_calls 'ABANDON')" -eq 1 ]
  [ "$(count_calls '^gitlab-runner register')" -eq 0 ]
}

@test "docker extras replace the template's keys in [runners.docker]; runner extras land in [[runners]]" {
  write_env RF_EXECUTOR=docker \
    'RF_DOCKER_EXTRA_SETTINGS={"privileged":true,"volumes":["/certs/client","/cache"],"services":[{"name":"docker:27-dind","alias":"docker"}],"pull_policy":["always","if-not-present"]}' \
    'RF_RUNNER_EXTRA_SETTINGS={"environment":["DOCKER_TLS_CERTDIR=/certs"],"output_limit":16384}'
  run "$LINUX_DIR/docker.sh"
  echo "$output"
  [ "$status" -eq 0 ]
  template="$RF_STATE_DIR/runner-template.toml"
  cat "$template"
  [ "$(grep -c '^ *privileged = ' "$template")" -eq 1 ]
  grep -qx '    privileged = true' "$template"
  grep -qx '    volumes = \["/certs/client", "/cache"\]' "$template"
  grep -qx '    services = \[{ name = "docker:27-dind", alias = "docker" }\]' "$template"
  grep -qx '    pull_policy = \["always", "if-not-present"\]' "$template"
  grep -qx '    image = "alpine:3.20"' "$template"
  # [[runners]] keys come before its first sub-table.
  env_line=$(grep -n 'environment = \["DOCKER_TLS_CERTDIR=/certs"\]' "$template" | cut -d: -f1)
  docker_line=$(grep -n '^\s*\[runners.docker\]' "$template" | cut -d: -f1)
  [ "$env_line" -lt "$docker_line" ]
  grep -qx '  output_limit = 16384' "$template"
}

@test "extra settings that are not a JSON object stop the launch with ABANDON" {
  write_env RF_EXECUTOR=docker 'RF_DOCKER_EXTRA_SETTINGS=["privileged"]'
  run "$LINUX_DIR/docker.sh"
  [ "$status" -ne 0 ]
  [[ "$output" == *"RF_DOCKER_EXTRA_SETTINGS must be a JSON object"* ]]
  [ "$(count_calls 'ABANDON')" -eq 1 ]
  [ "$(count_calls '^gitlab-runner register')" -eq 0 ]
}

@test "without extras the shell template is what it was" {
  run "$LINUX_DIR/shell.sh"
  [ "$status" -eq 0 ]
  diff <(printf '[[runners]]\n  executor = "shell"\n  [runners.cache]\n    Type = "s3"\n    Shared = true\n    [runners.cache.s3]\n      BucketName = "runners-test-cache"\n      BucketLocation = "eu-west-1"\n      AuthenticationType = "iam"\n') \
    "$RF_STATE_DIR/runner-template.toml"
}

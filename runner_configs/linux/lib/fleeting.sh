# shellcheck shell=bash
# The docker-autoscaler manager's side of fleeting-plugin-aws: the
# [runners.autoscaler] block, the plugin install, the service environment the
# plugin needs and the worker group setting no template property can make.
# Followed: GitLab Runner docs/executors/docker_autoscaler.md (AWS example:
# no scaling policy, scale-in protection, AZRebalance off),
# docs/configuration/advanced-configuration.md ([runners.autoscaler],
# [[runners.autoscaler.policy]]) and docs/fleet_scaling/fleeting.md (plugin
# reference and `gitlab-runner fleeting install`), at gitlab-runner fc1f1862.
# Requires lib/common.sh.

# GitLab's documented reference for the AWS plugin (registry.gitlab.com,
# gitlab-org/fleeting/plugins/aws); `fleeting install` resolves the newest.
readonly RF_FLEETING_PLUGIN="${RF_FLEETING_PLUGIN:-aws:latest}"
# Plugins go here instead of ~/.config, which a system service may not have.
readonly RF_FLEETING_PLUGIN_PATH="${RF_FLEETING_PLUGIN_PATH:-$RF_STATE_DIR/fleeting-plugins}"
readonly RF_FLEETING_DROPIN="${RF_FLEETING_DROPIN:-20-runner-fleet-fleeting.conf}"
# A worker takes jobs once its UserData (Docker) has finished; cloud-init
# exits 2 for "done with recoverable errors", which still means done.
readonly RF_WORKER_READY_COMMAND='cloud-init status --wait || test $? -eq 2'

# fleeting_settings: the manager's concurrent is every worker's every slot.
fleeting_settings() {
  rf_require RF_WORKER_GROUP RF_WORKER_USER RF_WORKER_CAPACITY_PER_INSTANCE RF_WORKER_MAX_INSTANCES
  RF_CONCURRENT=$((RF_WORKER_CAPACITY_PER_INSTANCE * RF_WORKER_MAX_INSTANCES))
  export RF_CONCURRENT
}

# fleeting_periods_toml: "a;b" -> ["a", "b"].
fleeting_periods_toml() {
  local periods="${RF_WORKER_IDLE_PERIODS:-* * * * *}" out="" period
  local -a list
  IFS=';' read -r -a list <<<"$periods"
  for period in "${list[@]}"; do out+="${out:+, }\"$period\""; done
  printf '[%s]' "$out"
}

# fleeting_autoscaler_toml: the [runners.autoscaler] part of the template.
# The first policy keeps no idle worker at any time; the second, later and
# so winning inside its periods, keeps RF_WORKER_IDLE_COUNT job slots ready.
fleeting_autoscaler_toml() {
  local idle_time="${RF_WORKER_IDLE_TIME_SECONDS:-1200}s" zone="${RF_WORKER_TIME_ZONE:-Etc/UTC}"
  cat <<TOML
  [runners.autoscaler]
    plugin = "$RF_FLEETING_PLUGIN"
    capacity_per_instance = $RF_WORKER_CAPACITY_PER_INSTANCE
    max_use_count = ${RF_WORKER_MAX_USE_COUNT:-1}
    max_instances = $RF_WORKER_MAX_INSTANCES
    delete_instances_on_shutdown = true
    instance_ready_command = "$(printf '%s' "$RF_WORKER_READY_COMMAND" | sed 's/["\\]/\\&/g')"
    [runners.autoscaler.plugin_config]
      name = "$RF_WORKER_GROUP"
    [runners.autoscaler.connector_config]
      username = "$RF_WORKER_USER"
      use_external_addr = false
    [[runners.autoscaler.policy]]
      periods = ["* * * * *"]
      timezone = "$zone"
      idle_count = 0
      idle_time = "$idle_time"
    [[runners.autoscaler.policy]]
      periods = $(fleeting_periods_toml)
      timezone = "$zone"
      idle_count = ${RF_WORKER_IDLE_COUNT:-0}
      idle_time = "$idle_time"
TOML
}

# fleeting_suspend_az_rebalance: AZRebalance would terminate workers to
# even out zones behind the manager's back (GitLab's troubleshooting:
# "unable to acquire instance"); CloudFormation has no property for it.
fleeting_suspend_az_rebalance() {
  retry "suspend AZRebalance on $RF_WORKER_GROUP" aws --region "$RF_REGION" autoscaling suspend-processes \
    --auto-scaling-group-name "$RF_WORKER_GROUP" --scaling-processes AZRebalance ||
    die "cannot suspend AZRebalance on the worker group $RF_WORKER_GROUP; check the ManagerFleetingPolicy"
  log_info "AZRebalance suspended on $RF_WORKER_GROUP"
}

# fleeting_service_dropin: the runner service finds the plugin and the region.
fleeting_service_dropin() {
  if write_if_changed "$RF_SYSTEMD_DIR/$RF_RUNNER_SERVICE.d/$RF_FLEETING_DROPIN" 0644 <<UNIT; then
# runner-fleet: fleeting-plugin-aws for the docker-autoscaler executor.
[Service]
Environment=FLEETING_PLUGIN_PATH=$RF_FLEETING_PLUGIN_PATH
Environment=AWS_REGION=$RF_REGION
UNIT
    systemctl daemon-reload
  fi
}

# fleeting_install_plugin: what config.toml's plugin reference names.
fleeting_install_plugin() {
  mkdir -p "$RF_FLEETING_PLUGIN_PATH"
  FLEETING_PLUGIN_PATH="$RF_FLEETING_PLUGIN_PATH" retry "gitlab-runner fleeting install" \
    gitlab-runner fleeting --config "$RF_RUNNER_CONFIG" install ||
    die "cannot install the fleeting plugin $RF_FLEETING_PLUGIN from registry.gitlab.com; check outbound HTTPS"
}

# shellcheck shell=bash
# Auto Scaling calls made by the instance itself: lifecycle heartbeats and
# completion, scale-in protection, and the fleet's metrics (slots, memory).
# Requires lib/common.sh and lib/imds.sh; RF_INSTANCE_ID, RF_ASG_NAME and
# RF_REGION must be set (fleet_identity does it).

# fleet_identity: resolve who we are from IMDS once per process. Returns 1
# (logged) instead of exiting, so the agent can retry; the bootstrap's step
# fails on it under set -e.
fleet_identity() {
  imds_instance_id || {
    log_error "cannot read instance-id from IMDS at $RF_IMDS_ENDPOINT"
    return 1
  }
  RF_INSTANCE_ID="$IMDS_VALUE"
  # RF_ASG_NAME from the environment wins: for emulators without instance tags.
  if [[ -z "${RF_ASG_NAME:-}" ]]; then
    imds_asg_name || {
      log_error "cannot read tag aws:autoscaling:groupName from IMDS; the launch template must enable InstanceMetadataTags"
      return 1
    }
    RF_ASG_NAME="$IMDS_VALUE"
  fi
  if [[ -z "${RF_REGION:-}" ]]; then
    imds_region || {
      log_error "cannot read the region from IMDS"
      return 1
    }
    RF_REGION="$IMDS_VALUE"
  fi
  export RF_INSTANCE_ID RF_ASG_NAME RF_REGION
}

_asg() { aws --region "$RF_REGION" autoscaling "$@"; }

# lifecycle_heartbeat HOOK: extend the hook's timeout by RF_HEARTBEAT_TIMEOUT.
lifecycle_heartbeat() {
  local hook="$1"
  [[ -n "$hook" ]] || return 0
  if _asg record-lifecycle-action-heartbeat --lifecycle-hook-name "$hook" \
    --auto-scaling-group-name "$RF_ASG_NAME" --instance-id "$RF_INSTANCE_ID" >/dev/null; then
    log_info "heartbeat sent for lifecycle hook $hook"
  else
    log_warn "heartbeat for lifecycle hook $hook failed"
    return 1
  fi
}

# lifecycle_complete HOOK RESULT: CONTINUE or ABANDON the pending action.
lifecycle_complete() {
  local hook="$1" result="$2"
  [[ -n "$hook" ]] || {
    log_warn "no lifecycle hook configured; nothing to complete ($result)"
    return 0
  }
  if retry "complete-lifecycle-action $result" _asg complete-lifecycle-action --lifecycle-hook-name "$hook" \
    --auto-scaling-group-name "$RF_ASG_NAME" --instance-id "$RF_INSTANCE_ID" \
    --lifecycle-action-result "$result" >/dev/null; then
    log_info "lifecycle action $hook completed with $result"
  else
    log_error "could not complete lifecycle action $hook with $result; the hook times out after RF_HEARTBEAT_TIMEOUT"
    return 1
  fi
}

# heartbeat_loop_start HOOK / heartbeat_loop_stop: heartbeats in the
# background while the launch runs (patching, downloads, register, verify).
# Starting it twice keeps the one loop. The subshell drops the parent's
# EXIT/ERR traps (it must never abandon the launch) and ends its sleep on TERM.
_heartbeat_pid=""
heartbeat_loop_start() {
  local hook="$1"
  [[ -n "$hook" ]] || return 0
  [[ -z "$_heartbeat_pid" ]] || return 0
  (
    trap - EXIT ERR
    sleeper=""
    trap '[[ -z "$sleeper" ]] || kill "$sleeper" 2>/dev/null; exit 0' TERM
    while true; do
      sleep "$RF_HEARTBEAT_INTERVAL_SECONDS" &
      sleeper=$!
      wait "$sleeper" || true
      sleeper=""
      lifecycle_heartbeat "$hook" || true
    done
  ) &
  _heartbeat_pid=$!
}
heartbeat_loop_stop() {
  if [[ -n "$_heartbeat_pid" ]]; then
    kill "$_heartbeat_pid" 2>/dev/null || true
    wait "$_heartbeat_pid" 2>/dev/null || true
    _heartbeat_pid=""
  fi
}

# scale_in_protection_set true|false
scale_in_protection_set() {
  local flag="--protected-from-scale-in"
  [[ "$1" == true ]] || flag="--no-protected-from-scale-in"
  _asg set-instance-protection --instance-ids "$RF_INSTANCE_ID" \
    --auto-scaling-group-name "$RF_ASG_NAME" "$flag" >/dev/null
}

# memory_utilization: used memory in percent (integer, floored) from
# RF_MEMINFO_FILE: (MemTotal - MemAvailable) / MemTotal x 100. Returns 1 when
# either field is missing or unusable.
memory_utilization() {
  local key value total="" available=""
  while read -r key value _; do
    case "$key" in
      MemTotal:) total="$value" ;;
      MemAvailable:) available="$value" ;;
    esac
  done <"$RF_MEMINFO_FILE" || return 1
  [[ "$total" =~ ^[0-9]+$ && "$available" =~ ^[0-9]+$ ]] || return 1
  ((total > 0 && available <= total)) || return 1
  echo $(((total - available) * 100 / total))
}

# metrics_publish BUSY CONCURRENT: the contract's metrics in one call, the
# three slot metrics and MemoryUtilization (left out, with a warning, when
# meminfo cannot be read, so the slot metrics still go out).
metrics_publish() {
  local busy="$1" concurrent="$2" saturation=0 memory
  ((concurrent > 0)) && saturation=$((busy * 100 / concurrent))
  local dim="Name=AutoScalingGroupName,Value=$RF_ASG_NAME"
  local -a data=(
    "MetricName=BusyJobSlots,Unit=Count,Value=$busy,Dimensions=[{$dim}]"
    "MetricName=ConcurrentJobSlots,Unit=Count,Value=$concurrent,Dimensions=[{$dim}]"
    "MetricName=JobSlotSaturation,Unit=Percent,Value=$saturation,Dimensions=[{$dim}]"
  )
  if memory="$(memory_utilization)"; then
    data+=("MetricName=MemoryUtilization,Unit=Percent,Value=$memory,Dimensions=[{$dim}]")
  else
    log_warn "cannot read MemTotal and MemAvailable from $RF_MEMINFO_FILE; MemoryUtilization not published"
  fi
  aws --region "$RF_REGION" cloudwatch put-metric-data --namespace "$RF_METRICS_NAMESPACE" --metric-data \
    "${data[@]}" >/dev/null
}

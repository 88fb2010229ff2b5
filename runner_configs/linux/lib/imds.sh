# shellcheck shell=bash
# IMDSv2 client: session token, reads with retry, and the few values the
# fleet needs. The endpoint comes from AWS_EC2_METADATA_SERVICE_ENDPOINT (as
# in the AWS SDKs) so tests can point it at a local double.
# Requires lib/common.sh.

readonly RF_IMDS_ENDPOINT="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}"
_imds_token=""
_imds_token_at=0

# _imds_refresh_token: fetch a session token into _imds_token when none is
# cached or the cached one is older than RF_IMDS_TOKEN_RENEW_SECONDS. Runs in
# the caller's shell (never in $(...)) so the cache survives.
_imds_refresh_token() {
  local now
  now="$(now_epoch)"
  if [[ -z "$_imds_token" ]] || ((now - _imds_token_at >= RF_IMDS_TOKEN_RENEW_SECONDS)); then
    _imds_token="$(curl -fsS -X PUT \
      --connect-timeout "$RF_IMDS_CONNECT_TIMEOUT_SECONDS" --max-time "$RF_IMDS_MAX_TIME_SECONDS" \
      -H "X-aws-ec2-metadata-token-ttl-seconds: $RF_IMDS_TOKEN_TTL_SECONDS" \
      "${RF_IMDS_ENDPOINT%/}/latest/api/token")" || {
      _imds_token=""
      return 1
    }
    _imds_token_at="$now"
  fi
}

# IMDS_VALUE: the value the last successful imds_get read. Reads return it
# here, not on stdout, so that imds_get runs in the caller's shell and a token
# it renews or drops (401) stays renewed or dropped for the next read; inside
# $(...) every later read would pay a 401 and a retry again.
# shellcheck disable=SC2034 # read by the callers (lifecycle.sh, the agent)
IMDS_VALUE=""

# _imds_fetch PATH: one GET into IMDS_VALUE; exit 0 with the value, 4 on 404
# (not present), 5 on 401 (token expired or revoked: dropped here), 1 otherwise.
_imds_fetch() {
  local path="$1" body status
  body="$(curl -sS -w '\n%{http_code}' \
    --connect-timeout "$RF_IMDS_CONNECT_TIMEOUT_SECONDS" --max-time "$RF_IMDS_MAX_TIME_SECONDS" \
    -H "X-aws-ec2-metadata-token: $_imds_token" \
    "${RF_IMDS_ENDPOINT%/}/latest/meta-data/$path")" || return 1
  status="${body##*$'\n'}"
  body="${body%$'\n'*}"
  case "$status" in
    200) IMDS_VALUE="$body" ;;
    404) return 4 ;;
    401)
      _imds_token=""
      return 5
      ;;
    *) return 1 ;;
  esac
}

# imds_get PATH: read a metadata value into IMDS_VALUE; retries transient
# failures. Exit 4 means "not present" (404), which is an answer, not a
# failure. A 401 drops the token and retries at once with a new one, without
# counting as a failed attempt (once per read: a second 401 is a failure).
# Never call it inside $(...): see IMDS_VALUE.
imds_get() {
  local path="$1" attempt=1 delay="$RF_RETRY_BASE_SECONDS" status renewed=""
  # shellcheck disable=SC2034 # see IMDS_VALUE above
  IMDS_VALUE=""
  while true; do
    if _imds_refresh_token && _imds_fetch "$path"; then
      return 0
    else
      status=$?
    fi
    ((status == 4)) && return 4
    if ((status == 5)) && [[ -z "$renewed" ]]; then
      renewed=1
      log_info "IMDS token refused (401) for $path; fetching a new one"
      continue
    fi
    if ((attempt >= RF_RETRY_ATTEMPTS)); then
      log_warn "IMDS $path unavailable after $attempt attempts"
      return 1
    fi
    log_warn "IMDS $path failed (attempt $attempt/$RF_RETRY_ATTEMPTS); retrying in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
}

# Each sets IMDS_VALUE (see imds_get).
imds_instance_id() { imds_get instance-id; }
imds_region() { imds_get placement/region; }
# The group name is not in fleet.env (see docs/instance-contract.md): it comes
# from instance tags in metadata, which the launch template enables.
imds_asg_name() { imds_get tags/instance/aws:autoscaling:groupName; }
# InService, Terminated, Warmed:*; absent outside an Auto Scaling group.
imds_lifecycle_state() { imds_get autoscaling/target-lifecycle-state; }
# JSON {"action":"terminate|stop|hibernate","time":"..."}; 404 until a notice.
imds_spot_action() { imds_get spot/instance-action; }
# JSON {"noticeTime":"..."}; 404 until a rebalance recommendation.
imds_rebalance() { imds_get events/recommendations/rebalance; }

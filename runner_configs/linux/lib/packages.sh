# shellcheck shell=bash
# What the host installs from packages: the kind of package manager
# (Amazon Linux 2023: dnf and rpm; Ubuntu 24.04: apt-get and deb), installs
# through it, and the two AWS tools the scripts need, the AWS CLI and the
# CloudWatch agent, when the AMI lacks them. gitlab-runner's own packages
# are lib/runner.sh's (runner_install).
# Requires lib/common.sh; cwagent_install also lib/runner.sh (runner_package_arch).

# pkg_kind: print rpm or deb for the host's package manager; fails without one.
pkg_kind() {
  if command -v dnf >/dev/null 2>&1; then echo rpm; elif command -v apt-get >/dev/null 2>&1; then echo deb; else return 1; fi
}

# pkg_install PACKAGE_OR_FILE...: install OS packages with the native tool.
pkg_install() {
  case "$(pkg_kind)" in
    rpm) retry "dnf install $*" dnf install -y -q "$@" ;;
    deb) retry "apt-get install $*" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" ;;
    *) die "no supported package manager (dnf or apt-get)" ;;
  esac
}

# cwagent_install: amazon-cloudwatch-agent is in the Amazon Linux 2023
# repositories but not in Ubuntu's; there the official .deb from the
# amazoncloudwatch-agent bucket is installed.
readonly RF_CWAGENT_DOWNLOAD_BASE="${RF_CWAGENT_DOWNLOAD_BASE:-https://amazoncloudwatch-agent.s3.amazonaws.com}"
cwagent_install() {
  command -v amazon-cloudwatch-agent-ctl >/dev/null 2>&1 && return 0
  if [[ "$(pkg_kind)" == deb ]]; then
    local arch deb
    arch="$(runner_package_arch deb "$(uname -m)" latest)" || die "unsupported architecture $(uname -m)"
    deb="$(mktemp -d)/amazon-cloudwatch-agent.deb"
    retry "download amazon-cloudwatch-agent.deb" curl -fsSL --max-time "$RF_DOWNLOAD_MAX_TIME_SECONDS" -o "$deb" \
      "$RF_CWAGENT_DOWNLOAD_BASE/ubuntu/$arch/latest/amazon-cloudwatch-agent.deb" ||
      die "cannot download the CloudWatch agent from $RF_CWAGENT_DOWNLOAD_BASE"
    pkg_install "$deb"
    rm -rf "$(dirname "$deb")"
  else
    pkg_install amazon-cloudwatch-agent
  fi
}

# aws_cli_install: Amazon Linux 2023 ships the AWS CLI; Ubuntu 24.04 AMIs
# may not (and its apt has no awscli package): install the snap there.
aws_cli_install() {
  command -v aws >/dev/null 2>&1 && return 0
  case "$(pkg_kind)" in
    rpm) pkg_install awscli-2 ;;
    deb)
      command -v snap >/dev/null 2>&1 || die "the AWS CLI is missing and snap is not available; use an AMI with the AWS CLI"
      retry "snap install aws-cli" snap install aws-cli --classic
      ;;
    *) die "the AWS CLI is missing and there is no supported package manager" ;;
  esac
}

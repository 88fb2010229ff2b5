# shellcheck shell=bash
# The consumer's extra gitlab-runner settings (stack parameters
# RunnerExtraSettings and RunnerDockerExtraSettings, fleet.env
# RF_RUNNER_EXTRA_SETTINGS and RF_DOCKER_EXTRA_SETTINGS, JSON objects) added
# to the [[runners]] template before register. `runner-fleet deploy` refused
# unknown keys already; lib/runner_settings.py writes valid TOML.
# Requires lib/common.sh.

readonly RF_RUNNER_SETTINGS_PY="${RF_RUNNER_SETTINGS_PY:-$(dirname "${BASH_SOURCE[0]}")/runner_settings.py}"

# runner_settings_apply: stdin (a template) to stdout with the extras added;
# without extras the template passes unchanged and python3 is not needed.
runner_settings_apply() {
  if [[ -z "${RF_RUNNER_EXTRA_SETTINGS:-}" && -z "${RF_DOCKER_EXTRA_SETTINGS:-}" ]]; then
    cat
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is needed to write the extra runner settings (cloud-init images ship it)"
  python3 "$RF_RUNNER_SETTINGS_PY" || die "the extra runner settings could not be written (see the line above)"
}

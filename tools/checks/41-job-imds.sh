#!/usr/bin/env bash
# The bats scenarios of test/iam/ (the job-IMDS firewall rules, built for real
# in a network namespace), counted as 40-bats counts its own.
set -Euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/40-bats.sh" test/iam

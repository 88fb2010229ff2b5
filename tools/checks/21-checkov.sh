#!/usr/bin/env bash
# checkov's CloudFormation checks on cfn/. Findings are fixed, or skipped in
# the template with a reason (Metadata: checkov: skip). --skip-download keeps
# it offline (no Prisma Cloud guideline lookups).
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
checkov -d cfn --framework cloudformation --quiet --compact --skip-download

#!/usr/bin/env bash
# TypeScript strict type check of sources, tests and tools.
set -Eeuo pipefail
tsc -p tsconfig.json --noEmit

#!/usr/bin/env bash
# Lint and formatting of TypeScript and JSON (biome check fails on unformatted files).
set -Eeuo pipefail
biome check .

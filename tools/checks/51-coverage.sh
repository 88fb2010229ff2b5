#!/usr/bin/env bash
# The per-file coverage floors in vitest.config.ts, over the unit tests: the
# modules that change a fleet and the pure decisions must stay tested by tests
# that run in-process (the integration tests run the CLI as a child process,
# which v8 coverage does not see). One check; the dot reporter keeps the
# JUnit report of 50-vitest as it is.
set -Eeuo pipefail
vitest run test/unit --reporter=dot --coverage --coverage.reporter=text-summary

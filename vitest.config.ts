import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'scripts/**/*.test.ts'],
    // Integration tests start emulator processes; two cores do not gain from more workers.
    maxWorkers: 2,
    // In-process SDK clients must never look for real credentials: no instance
    // metadata endpoint, no profile files, no real network.
    env: {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'junit'],
    outputFile: { junit: 'reports/junit-vitest.xml' },
    coverage: {
      provider: 'v8',
      include: ['scripts/**/*.ts'],
      reportsDirectory: 'coverage',
      // The modules that change a fleet must stay well tested: tools/checks/51-coverage.sh checks these over the unit tests.
      thresholds: {
        'scripts/commands/deploy.ts': { lines: 85, branches: 75 },
        'scripts/stack/deploy-template.ts': { lines: 85, branches: 75 },
        'scripts/commands/roll.ts': { lines: 85, branches: 75 },
        'scripts/stack/change-set.ts': { lines: 85, branches: 70 },
        'scripts/commands/smoke-test.ts': { lines: 85, branches: 75 },
        // Pure decisions and input checks: the unit tests reach nearly all of them (just under the measured).
        'scripts/smoke-test/evaluate.ts': { lines: 99, branches: 97 },
        'scripts/preview/classify.ts': { lines: 95, branches: 75 },
        'scripts/preview/gate.ts': { lines: 99, branches: 93 },
        'scripts/cli-input/checks.ts': { lines: 99, branches: 89 },
        'scripts/cli-input/command-line.ts': { lines: 99, branches: 94 },
        'scripts/cli-input/common-flags.ts': { lines: 99, branches: 49 },
        'scripts/cli-input/schema.ts': { lines: 99, branches: 96 },
        'scripts/cli-input/usage.ts': { lines: 99, branches: 90 },
      },
    },
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'scripts/**/*.test.ts'],
    // Integration tests start emulator processes; two cores do not gain from more workers.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'junit'],
    outputFile: { junit: 'reports/junit-vitest.xml' },
    coverage: { provider: 'v8', include: ['scripts/**/*.ts'], reportsDirectory: 'coverage' },
  },
});

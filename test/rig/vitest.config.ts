import { defineConfig } from 'vitest/config';

// The drain rig (test/rig/*.rig.ts) runs alone, by tools/checks/60-drain-rig.sh:
// one scenario at a time (each starts a real systemd user manager and a real
// gitlab-runner; the runner's metrics port is fixed by the scripts).
export default defineConfig({
  test: {
    include: ['test/rig/**/*.rig.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});

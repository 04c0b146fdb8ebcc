import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Scenario tests create network namespaces and real processes: keep files from fighting over 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default', './test/plain-summary-reporter.ts'],
  },
});

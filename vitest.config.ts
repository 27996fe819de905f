import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'scripts/**/*.test.ts', 'migrations/**/*.test.ts'],
    reporters: ['default', './src/testing/summary-reporter.ts'],
    globalSetup: ['src/testing/global-setup.ts'],
    // Files run in parallel; each gets its own database cloned from the migrated template.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Docker, QEMU and Packer suites share one daemon and two cores: run files one or two at a time.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // A skipped test in CI is a failure: suites never call .skip; a missing tool throws.
    allowOnly: false,
  },
});

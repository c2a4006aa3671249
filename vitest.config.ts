import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the single binaries once, so tests run the real binary (see test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Two cores: more workers only thrash. VM suites serialise themselves.
    maxWorkers: 2,
    minWorkers: 1,
  },
});

import { defineConfig } from 'vitest/config';

/**
 * Runs only the network suite, without the repository's global setup (which builds the binaries this
 * pure code does not need): `npx vitest run --config test/network/vitest.config.ts`.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/network/**/*.test.ts'],
    testTimeout: 60_000,
    maxWorkers: 2,
    minWorkers: 1,
  },
});

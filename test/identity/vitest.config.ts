import { defineConfig } from 'vitest/config';

/**
 * The identity suite alone, without the repository's global setup (these tests need no built binary):
 * `npx vitest run --config test/identity/vitest.config.ts`. The root config runs it too.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/identity/**/*.test.ts'],
    testTimeout: 60_000,
    maxWorkers: 2,
    minWorkers: 1,
  },
});

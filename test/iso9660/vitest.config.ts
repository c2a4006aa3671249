import { defineConfig } from 'vitest/config';

/**
 * Runs only the ISO 9660 suite, without the repository's global setup (which builds the binaries the
 * codec does not need): `npx vitest run --config test/iso9660/vitest.config.ts`.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/iso9660/**/*.test.ts'],
    testTimeout: 60_000,
    maxWorkers: 2,
    minWorkers: 1,
  },
});

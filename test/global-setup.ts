import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Build dist/ once if it is missing; `npm test` builds it before vitest, so this matters for `npx vitest`. */
export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  const bins = ['dist/contextualization', 'dist/contextgen'].map((b) => join(root, b));
  if (bins.every((b) => existsSync(b) && statSync(b).size > 0)) return;
  execFileSync('node', ['build/build.mjs'], { cwd: root, stdio: 'inherit' });
}

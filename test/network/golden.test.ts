/**
 * Golden files: every fixture through resolveNetwork and every renderer, compared byte for byte with
 * test/network/golden/<case>/. UPDATE_GOLDEN=1 regenerates them (review the git diff before committing).
 * Layout: resolved.json (the NetworkConfig and resolver notes), then per backend the files under
 * <backend>/root/<in-root path> and <backend>/plan.txt (mode and reason of each file, commands, notes).
 */
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { resolveNetwork } from '../../agent/src/network/resolve.js';
import { DETECTION_ORDER, RENDERERS } from '../../agent/src/network/renderers/index.js';
import type { RenderResult } from '../../agent/src/types/network.js';
import { GOLDEN_CASES } from './fixtures.js';
import { expectGolden } from './helpers.js';

const GOLDEN = join(import.meta.dirname, 'golden');

function planText(r: RenderResult): string {
  const lines = [
    ...r.files.map((f) => `file ${f.path} mode ${f.mode.toString(8).padStart(4, '0')}: ${f.reason}`),
    ...r.commands.map(
      (c) => `run ${c.when}${c.required ? ' required' : ''}${c.requiresActive ? ` if ${c.requiresActive} is active` : ''} ${JSON.stringify(c.argv)}: ${c.reason}`,
    ),
    ...r.notes.map((n) => `note ${n.level} ${n.text}`),
  ];
  return `${lines.join('\n')}\n`;
}

describe.each(GOLDEN_CASES)('golden $name', ({ name, ctx, nics }) => {
  const { config, notes } = resolveNetwork(ctx, nics);

  it('resolves to the expected NetworkConfig', () => {
    expectGolden(join(GOLDEN, name, 'resolved'), { 'resolved.json': `${JSON.stringify({ config, notes }, null, 2)}\n` });
  });

  it.each(DETECTION_ORDER.map((b) => [b]))('renders for %s', (backend) => {
    const result = RENDERERS[backend].render(config);
    const actual: Record<string, string> = { 'plan.txt': planText(result) };
    for (const f of result.files) actual[`root${f.path}`] = f.content;
    expectGolden(join(GOLDEN, name, backend), actual);
  });
});

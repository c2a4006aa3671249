/**
 * Untrusted input never crashes the parser: random mutations of a valid context either parse (and
 * then round-trip) or fail with a ContextError, never with any other exception.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 as rng } from '../support/prng.js';
import { ContextError, parseContext, readContextDir, serializeContext, type ContextFiles } from '../../lib/context/index.js';
import { join } from 'node:path';


// Bytes that matter to the grammars: quotes, separators, metacharacters, controls, high bytes.
const INTERESTING = Buffer.from('"\'\\$`;#=[]/.:- \t\r\n\x00\x7f\xff0123456789abcdefx');

function mutate(files: ContextFiles, r: () => number): ContextFiles {
  const out: ContextFiles = new Map([...files].map(([k, v]) => [k, Buffer.from(v)]));
  const paths = [...out.keys()];
  for (let m = 1 + Math.floor(r() * 4); m > 0; m--) {
    const path = paths[Math.floor(r() * paths.length)]!;
    const buf = out.get(path)!;
    const at = Math.floor(r() * (buf.length + 1));
    const byte = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
    const op = r();
    const next = op < 0.4 ? Buffer.concat([buf.subarray(0, at), Buffer.from([byte]), buf.subarray(at)])
      : op < 0.7 ? Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)])
        : Buffer.concat([buf.subarray(0, at), Buffer.from([byte]), buf.subarray(at + 1)]);
    out.set(path, next);
  }
  return out;
}

describe('mutation fuzzing of context-template/', () => {
  it('3000 mutants: parse or ContextError, and what parses round-trips', async () => {
    const base = await readContextDir(join(import.meta.dirname, '../../context-template'));
    const r = rng(42);
    let parsed = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const mutant = mutate(base, r);
      try {
        const ctx = parseContext(mutant);
        expect(parseContext(serializeContext(ctx))).toEqual(ctx);
        parsed++;
      } catch (e) {
        if (!(e instanceof ContextError)) throw new Error(`mutant ${i} crashed the parser: ${(e as Error).stack}`);
        expect(e.problems.length).toBeGreaterThan(0);
        refused++;
      }
    }
    // Both outcomes happen (mutations in comments and scripts are harmless).
    expect(parsed).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});

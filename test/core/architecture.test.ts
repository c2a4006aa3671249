/**
 * The folder structure is the architecture (ARCHITECTURE.md): no import cycle between the agent's
 * folders, the lib/ folders never import the agent or the host tools, and the boot path never loads
 * the diagnostics library (systeminformation).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/fake-roots.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Static imports only (a dynamic import() is the lazy-loading escape hatch, and is allowed). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gms)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

/** Folder of a file, one level below agent/src (agent/src/plan/x.ts -> plan; agent/src/cli.ts -> .). */
function folder(file: string): string {
  const rel = relative(join(REPO, 'agent/src'), file);
  return rel.includes('/') ? rel.split('/')[0]! : '.';
}

describe('architecture', () => {
  it('no import cycle between the agent folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const f of sources(join(REPO, 'agent/src'))) {
      for (const t of importsOf(f)) {
        if (!t.startsWith(join(REPO, 'agent/src'))) continue;
        const [a, b] = [folder(f), folder(t)];
        if (a !== b) (edges.get(a) ?? edges.set(a, new Set()).get(a)!).add(b);
      }
    }
    const cycles: string[] = [];
    const walk = (node: string, path: string[]): void => {
      for (const next of edges.get(node) ?? []) {
        if (path.includes(next)) cycles.push([...path.slice(path.indexOf(next)), next].join(' -> '));
        else walk(next, [...path, next]);
      }
    };
    for (const start of edges.keys()) walk(start, [start]);
    expect([...new Set(cycles)]).toEqual([]);
  });

  it('lib/ imports nothing of the agent or the host tools', () => {
    const bad = sources(join(REPO, 'lib')).flatMap((f) => importsOf(f).filter((t) => !t.startsWith(join(REPO, 'lib'))).map((t) => `${relative(REPO, f)} -> ${relative(REPO, t)}`));
    expect(bad).toEqual([]);
  });

  it('the boot path (local, final) never imports systeminformation or pino-pretty', () => {
    const seen = new Set<string>();
    const visit = (f: string): void => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const t of importsOf(f)) visit(t);
    };
    visit(join(REPO, 'agent/src/cli.ts'));
    const text = [...seen].map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(text).not.toMatch(/from 'systeminformation'/);
    expect(text).not.toMatch(/from 'pino-pretty'/);
  });
});

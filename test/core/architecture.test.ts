/**
 * The folder structure is the architecture (ARCHITECTURE.md): no import cycle between the agent's
 * folders, the lib/ folders never import the agent or the host tools, and the boot path never loads
 * the diagnostics library (systeminformation). Start-up diet: each command of both binaries loads
 * (statically, i.e. eagerly once its dynamic import() resolves) only the packages it needs.
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
  return [...text.matchAll(/^(?:import|export)(?:[^;']*?from)?\s*'(\.[^']+)'/gms)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

/** Folder of a file, one level below agent/src (agent/src/plan/x.ts -> plan; agent/src/cli.ts -> .). */
function folder(file: string): string {
  const rel = relative(join(REPO, 'agent/src'), file);
  return rel.includes('/') ? rel.split('/')[0]! : '.';
}

/** Every source file and npm package a file loads through static imports (type-only imports excluded). */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (f: string): void => {
    if (files.has(f)) return;
    files.add(f);
    const text = readFileSync(f, 'utf8');
    // `import x from 'y'` and the side-effect form `import 'y'` (the snapshot entry evaluates modules so).
    for (const m of text.matchAll(/^(?:import|export)(?!\s+type\b)(?:[^;']*?from)?\s*'([^']+)'/gms)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  visit(join(REPO, entry));
  return { files, packages };
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

  // Start-up diet (issue 11 item 5, issue 12): what each command may evaluate. The packages a
  // command needs are listed exactly, so a new heavy import on a hot path fails here first.
  const graphs: { entry: string; what: string; packages: string[]; forbiddenFiles?: string[] }[] = [
    { entry: 'agent/src/cli.ts', what: 'contextualization before any command (--version, --help)', packages: ['commander', 'ipaddr.js'] },
    // execa is loaded on the first command (agent/src/system/exec.ts), never evaluated into the snapshot.
    { entry: 'agent/src/stages/local.ts', what: 'contextualization local', packages: ['ipaddr.js', 'zod'], forbiddenFiles: ['agent/src/install.ts', 'agent/src/diagnostics.ts'] },
    { entry: 'agent/src/stages/final.ts', what: 'contextualization final', packages: ['ipaddr.js', 'zod'], forbiddenFiles: ['agent/src/install.ts', 'agent/src/diagnostics.ts'] },
    { entry: 'agent/src/snapshot.ts', what: "the x64 agent's startup snapshot", packages: ['commander', 'ipaddr.js', 'pino', 'zod'], forbiddenFiles: ['agent/src/install.ts', 'agent/src/diagnostics.ts'] },
    { entry: 'agent/src/log.ts', what: 'the agent logger', packages: ['pino'] },
    { entry: 'host-tools/src/program.ts', what: 'contextgen before any command (--version, --help)', packages: ['commander', 'ipaddr.js'] },
    { entry: 'host-tools/src/commands/iso.ts', what: 'contextgen iso', packages: ['ipaddr.js'] },
    { entry: 'host-tools/src/commands/validate.ts', what: 'contextgen validate', packages: ['ipaddr.js'] },
  ];
  for (const g of graphs) {
    it(`${g.what} loads only ${g.packages.join(', ')}`, () => {
      const { files, packages } = staticGraph(g.entry);
      expect([...packages].sort()).toEqual(g.packages);
      const loaded = [...files].map((f) => relative(REPO, f));
      for (const f of g.forbiddenFiles ?? []) expect(loaded).not.toContain(f);
    });
  }

  it('the agent bundle has no real dynamic import(): a binary started from a startup snapshot has no loader for one', () => {
    const bundle = readFileSync(join(REPO, 'dist/.build/x64/contextualization.cjs'), 'utf8');
    expect(bundle.match(/[^\w$.]import\([^)]{0,60}\)/g) ?? []).toEqual([]);
  });

  it('the built bundles record what they pull in (esbuild metafile), and the agent bundle holds no XML or progress bar', () => {
    const meta = JSON.parse(readFileSync(join(REPO, 'dist/.build/x64/contextualization.meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs);
    expect(inputs.some((f) => f.includes('agent/src/stages/local.ts'))).toBe(true);
    expect(inputs.filter((f) => /node_modules\/(xmlbuilder2|cli-progress|pino-pretty)\//.test(f))).toEqual([]);
  });
});

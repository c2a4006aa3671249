/**
 * Every repository path the documentation names exists: paths in the Markdown files (outside fenced
 * examples) and in `see ...` comments of the code. A renamed or deleted file otherwise leaves readers
 * hunting for agent/src/run.ts or lib/util/atomic.ts; a path outside the repository (../shared/...)
 * is refused too, since a clone does not have it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/fake-roots.js';

const tracked = execFileSync('git', ['ls-files'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter((f) => f && !f.startsWith('node_modules/'));
const trackedSet = new Set(tracked);
const dirs = new Set(tracked.flatMap((f) => f.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))));
const TOP = [...new Set(tracked.filter((f) => f.includes('/')).map((f) => f.split('/')[0]!))];

/** A file name with one of the repository's source or doc extensions, optionally with folders before it. */
const FILE_REF = /(?<![\w/.@$-])((?:\.\.?\/)*[\w.-]+(?:\/[\w.-]+)*\.(?:ts|mjs|md|sh))(?![\w/-])/g;
/** A folder path starting at a top-level folder of the repository (agent/src/steps, lib/fs/). */
const DIR_REF = new RegExp(`(?<![\\w/.@$-])((?:${TOP.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})/[\\w./-]*[\\w])(?![\\w/-])`, 'g');

function exists(ref: string, from: string): boolean {
  const rel = normalize(join(dirname(from), ref));
  if (rel.startsWith('..')) return false; // outside the repository
  if (trackedSet.has(ref) || dirs.has(ref) || trackedSet.has(rel) || dirs.has(rel)) return true;
  // Shorthand below a folder the text is about (ARCHITECTURE.md: "discover/index.ts" in agent/src).
  return !ref.startsWith('.') && tracked.some((f) => f.endsWith(`/${ref}`));
}

/** Placeholders (OUTDIR/..., <vm>/...) and globs are not paths. */
const isPlaceholder = (ref: string): boolean => /(^|\/)[A-Z][A-Z_]+(\/|$)|[*<>{}]/.test(ref);

function refsIn(text: string): string[] {
  const found = [...text.matchAll(FILE_REF), ...text.matchAll(DIR_REF)].map((m) => m[1]!.replace(/\.$/, ''));
  return [...new Set(found.filter((r) => !isPlaceholder(r)))];
}

function missing(): string[] {
  const out: string[] = [];
  for (const f of tracked) {
    const text = readFileSync(join(REPO, f), 'utf8');
    if (f.endsWith('.md')) {
      const prose = text.replace(/^(```|~~~)[\s\S]*?^\1/gm, (block) => block.replace(/[^\n]/g, ''));
      prose.split('\n').forEach((line, i) => {
        for (const r of refsIn(line)) if (!exists(r, f)) out.push(`${f}:${i + 1}: ${r}`);
        if (/\/work\/|\.\.\/shared\//.test(line)) out.push(`${f}:${i + 1}: a path outside the repository`);
      });
    } else if (/\.(ts|mjs|sh)$/.test(f)) {
      text.split('\n').forEach((line, i) => {
        const see = /(?:\/\/|^\s*\*|#).*?\bsee\s+(.*)$/i.exec(line);
        if (!see) return;
        for (const r of refsIn(see[1]!)) if (!exists(r, f)) out.push(`${f}:${i + 1}: ${r}`);
      });
    }
  }
  return out;
}

describe('references', () => {
  it('every repository path named in *.md and in "see ..." comments exists', () => {
    expect(missing()).toEqual([]);
  });

  it('the check finds a missing path, a path outside the repository, and not a placeholder', () => {
    expect(exists('agent/src/run.ts', 'README.md')).toBe(false);
    expect(exists('discover/fallback.ts', 'ARCHITECTURE.md')).toBe(false);
    expect(exists('../shared/reference/anchors.md', 'README.md')).toBe(false);
    expect(exists('discover/index.ts', 'ARCHITECTURE.md')).toBe(true);
    expect(exists('lib/fs', 'ARCHITECTURE.md')).toBe(true);
    expect(refsIn('written to OUTDIR/.contextgen.json and lib/fs/root.ts')).toEqual(['lib/fs/root.ts']);
  });
});

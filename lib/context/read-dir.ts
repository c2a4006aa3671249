/**
 * readContextDir: a context directory on the host -> ContextFiles. Refuses what could not be put on
 * an ISO faithfully or safely: symlinks leading outside the directory, special files, oversized
 * files, too many files, too deep trees. Symlinks inside the directory are followed (their target
 * is read), so the agent never sees a link.
 */
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ContextError, Problems } from './errors.js';
import type { ContextFiles } from './model.js';
import { CONTEXT_READ_LIMITS, fileLimit, limitWhy, type ContextReadLimits } from './limits.js';
import { checkContextPath } from './rules.js';

export { fileLimit } from './limits.js';

export async function readContextDir(dir: string, limits: ContextReadLimits = CONTEXT_READ_LIMITS): Promise<ContextFiles> {
  const problems = new Problems();
  const files: ContextFiles = new Map();
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new ContextError([{ file: dir, why: `cannot read the context directory: ${(e as Error).message}` }]);
  }
  let total = 0;
  let stopped = false;
  const inside = (p: string) => p === root || p.startsWith(root + sep);

  async function addFile(rel: string, real: string, size: number): Promise<void> {
    const limit = fileLimit(rel, limits);
    if (size > limit) return problems.add(rel, undefined, undefined, limitWhy.fileBytes(size, limit));
    if (files.size >= limits.files) {
      stopped = true;
      return problems.add(dir, undefined, undefined, limitWhy.files(limits));
    }
    if (total + size > limits.totalBytes) {
      stopped = true;
      return problems.add(dir, undefined, undefined, limitWhy.totalBytes(limits));
    }
    const buf = await readFile(real);
    if (buf.length > limit) return problems.add(rel, undefined, undefined, `file grew to ${buf.length} bytes while read; the limit is ${limit}`);
    total += buf.length;
    files.set(rel, buf);
  }

  async function walk(relDir: string, realDir: string, depth: number, seen: Set<string>): Promise<void> {
    const entries = (await readdir(realDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (stopped) return;
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      const path = checkContextPath(rel);
      if (!path.ok) {
        problems.add(rel, undefined, undefined, path.why);
        continue;
      }
      const full = join(realDir, e.name);
      let st = await lstat(full);
      let real = full;
      if (st.isSymbolicLink()) {
        try {
          real = await realpath(full);
        } catch {
          problems.add(rel, undefined, undefined, 'dangling symlink');
          continue;
        }
        if (!inside(real)) {
          problems.add(rel, undefined, undefined, 'symlink points outside the context directory');
          continue;
        }
        st = await stat(real);
      }
      if (st.isDirectory()) {
        if (depth + 1 > limits.depth) {
          problems.add(rel, undefined, undefined, limitWhy.depth(limits));
        } else if (seen.has(real)) {
          problems.add(rel, undefined, undefined, 'symlink loop (directory already being read)');
        } else {
          await walk(rel, real, depth + 1, new Set([...seen, real]));
        }
      } else if (st.isFile()) {
        await addFile(rel, real, st.size);
      } else {
        problems.add(rel, undefined, undefined, 'special file (device, FIFO or socket) is not allowed in a context');
      }
    }
  }

  await walk('', root, 0, new Set([root]));
  problems.throwIfAny();
  return files;
}

/**
 * readContextDir: a context directory -> ContextFiles. contextgen reads a user's context directory
 * with it, and the agent reads a mounted CD with it, so the rule is the one the in-process ISO reader
 * applies (lib/iso9660 readAllFiles): regular files and directories only. A symlink, a hard link,
 * a device node, a FIFO or a socket anywhere in the tree is refused with its path (never followed,
 * never skipped); sizes, counts and depth are bounded by CONTEXT_READ_LIMITS before reading.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { ContextError, Problems } from './errors.js';
import type { ContextFiles } from './model.js';
import { CONTEXT_READ_LIMITS, fileLimit, limitWhy, type ContextReadLimits } from './limits.js';
import { checkContextPath, notRegularWhy, type NonRegular } from './rules.js';

export { fileLimit } from './limits.js';

/** What is wrong with an entry that is neither a regular file with one name nor a directory. */
async function nonRegular(st: Stats, full: string): Promise<NonRegular | undefined> {
  if (st.isSymbolicLink()) return { kind: 'symlink', target: await readlink(full).catch(() => '?') };
  if (st.isBlockDevice() || st.isCharacterDevice()) return { kind: 'device' };
  if (st.isFIFO()) return { kind: 'fifo' };
  if (st.isSocket()) return { kind: 'socket' };
  if (st.isFile() && st.nlink > 1) return { kind: 'hardlink', links: st.nlink };
  return undefined;
}

export async function readContextDir(dir: string, limits: ContextReadLimits = CONTEXT_READ_LIMITS): Promise<ContextFiles> {
  const problems = new Problems();
  const files: ContextFiles = new Map();
  let root: string;
  try {
    // The root may be reached through a link (the operator names it); nothing below it is.
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new ContextError([{ file: dir, why: `cannot read the context directory: ${(e as Error).message}` }], { cause: e });
  }
  let total = 0;
  let stopped = false;

  async function addFile(rel: string, full: string, size: number): Promise<void> {
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
    // O_NOFOLLOW|O_NONBLOCK: an entry swapped for a link or a FIFO after lstat is refused, not followed or waited on.
    const fh = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
      problems.add(rel, undefined, undefined, e.code === 'ELOOP' ? notRegularWhy({ kind: 'symlink', target: '?' }) : `cannot read: ${e.code ?? e.message}`);
      return undefined;
    });
    if (!fh) return;
    try {
      const st = await fh.stat();
      const odd = await nonRegular(st, full);
      if (odd) return problems.add(rel, undefined, undefined, notRegularWhy(odd));
      if (!st.isFile() || st.size !== size) return problems.add(rel, undefined, undefined, 'changed while the context was read');
      // One byte more than the size: a file growing while read is caught without reading all of it.
      const buf = Buffer.alloc(size + 1);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got !== size) return problems.add(rel, undefined, undefined, 'changed while the context was read');
      total += got;
      files.set(rel, buf.subarray(0, got));
    } finally {
      await fh.close();
    }
  }

  async function walk(relDir: string, absDir: string, depth: number): Promise<void> {
    const entries = (await readdir(absDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (stopped) return;
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      const path = checkContextPath(rel);
      if (!path.ok) {
        problems.add(rel, undefined, undefined, path.why);
        continue;
      }
      const full = join(absDir, e.name);
      const st = await lstat(full);
      const odd = await nonRegular(st, full);
      if (odd) problems.add(rel, undefined, undefined, notRegularWhy(odd));
      else if (st.isDirectory()) {
        if (depth + 1 > limits.depth) problems.add(rel, undefined, undefined, limitWhy.depth(limits));
        else await walk(rel, full, depth + 1);
      } else await addFile(rel, full, st.size);
    }
  }

  await walk('', root, 0);
  problems.throwIfAny();
  return files;
}

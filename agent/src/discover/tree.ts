import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { ContextFiles } from '../../../lib/context/model.js';
import { ensureDir } from '../state/atomic.js';

/**
 * Reading a context tree (a mounted CD or a directory) into memory, and publishing it to
 * /run/contextualization/context. Everything here treats the tree as hostile: bounded size and count,
 * no symlinks followed, no path that could leave the destination.
 */

export interface ReadLimits {
  /** Most files accepted (a context has a handful). */
  maxFiles: number;
  /** Most bytes accepted over all files. */
  maxBytes: number;
  /** Deepest directory nesting accepted. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: ReadLimits = { maxFiles: 512, maxBytes: 64 * 1024 * 1024, maxDepth: 16 };

export class ContextTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContextTooLargeError';
  }
}

/** A relative POSIX path with no way out of its base and nothing a log line could be forged with. */
export function isSafeRelativePath(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.length > 1024) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(p)) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Check an already-read file map against the limits (for the in-process ISO reader's output). */
export function checkLimits(files: ContextFiles, limits: ReadLimits, where: string): void {
  if (files.size > limits.maxFiles) throw new ContextTooLargeError(`${where}: ${files.size} files, more than the limit of ${limits.maxFiles}`);
  let total = 0;
  for (const data of files.values()) total += data.length;
  if (total > limits.maxBytes) throw new ContextTooLargeError(`${where}: ${total} bytes, more than the limit of ${limits.maxBytes}`);
}

/**
 * Read a directory tree into a ContextFiles map: regular files only (symlinks, devices and fifos are
 * skipped and logged), with the limits enforced before each read so a huge tree is never loaded.
 */
export function readTree(dir: string, limits: ReadLimits = DEFAULT_LIMITS, logger?: Logger): ContextFiles {
  const files: ContextFiles = new Map();
  let total = 0;
  const walk = (abs: string, rel: string, depth: number): void => {
    if (depth > limits.maxDepth) throw new ContextTooLargeError(`${dir}: nesting deeper than ${limits.maxDepth} at ${rel}`);
    for (const name of readdirSync(abs).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const childAbs = join(abs, name);
      if (!isSafeRelativePath(childRel)) {
        logger?.warn({ path: JSON.stringify(childRel) }, 'skipping context entry with an unsafe name');
        continue;
      }
      const st = lstatSync(childAbs);
      if (st.isDirectory()) {
        walk(childAbs, childRel, depth + 1);
      } else if (st.isFile()) {
        if (files.size + 1 > limits.maxFiles) throw new ContextTooLargeError(`${dir}: more than ${limits.maxFiles} files`);
        if (total + st.size > limits.maxBytes) throw new ContextTooLargeError(`${dir}: more than ${limits.maxBytes} bytes`);
        const data = readFileSync(childAbs);
        total += data.length;
        files.set(childRel, data);
      } else {
        logger?.warn({ path: childRel }, 'skipping context entry that is not a regular file or directory');
      }
    }
  };
  walk(dir, '', 0);
  return files;
}

/**
 * Write the files to `contextDir` (0700 dirs, 0600 files) so later stages need no device.
 * Built in a temp dir beside it and renamed into place: readers never see a half-written context,
 * and a previous context is replaced whole, never merged.
 */
export function publishContext(files: ContextFiles, contextDir: string, logger?: Logger): void {
  const parent = dirname(contextDir);
  ensureDir(parent, 0o755);
  const tmp = mkdtempSync(join(parent, '.context-new-'));
  try {
    for (const [rel, data] of files) {
      if (!isSafeRelativePath(rel)) {
        logger?.warn({ path: JSON.stringify(rel) }, 'not publishing context entry with an unsafe name');
        continue;
      }
      const dest = join(tmp, rel);
      mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
      writeFileSync(dest, data, { mode: 0o600, flag: 'wx' });
    }
    ensureDir(tmp, 0o700);
    // rename() cannot replace a non-empty directory: move the old one aside first, then drop it.
    let old: string | undefined;
    if (existsSync(contextDir)) {
      old = join(parent, `.context-old-${randomBytes(4).toString('hex')}`);
      renameSync(contextDir, old);
    }
    renameSync(tmp, contextDir);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

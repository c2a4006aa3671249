import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { contextPathProblem } from '../../../lib/context/index.js';
import type { ContextFiles } from '../../../lib/context/model.js';
import { ensureDir } from '../state/atomic.js';

/**
 * Limits on what is read off a context CD, and publishing it to /run/contextualization/context.
 * The content is hostile: bounded size and count, no path that could leave the destination.
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

/** Check an already-read file map against the limits (for the in-process ISO reader's output). */
export function checkLimits(files: ContextFiles, limits: ReadLimits, where: string): void {
  if (files.size > limits.maxFiles) throw new ContextTooLargeError(`${where}: ${files.size} files, more than the limit of ${limits.maxFiles}`);
  let total = 0;
  for (const data of files.values()) total += data.length;
  if (total > limits.maxBytes) throw new ContextTooLargeError(`${where}: ${total} bytes, more than the limit of ${limits.maxBytes}`);
}

/**
 * Write the files to `contextDir` (0700 dirs, 0600 files) so later stages need no device.
 * Built in a temp dir beside it and renamed into place: readers never see a half-written context,
 * and a previous context is replaced whole, never merged.
 */
export function publishContext(files: ContextFiles, contextDir: string, logger?: Logger): void {
  const parent = dirname(contextDir);
  ensureDir(parent, 0o755);
  // A run killed mid-publish leaves its temp or set-aside copy behind; runs hold the lock, so any found now is stale.
  for (const n of readdirSync(parent)) {
    if (n.startsWith('.context-new-') || n.startsWith('.context-old-')) rmSync(join(parent, n), { recursive: true, force: true });
  }
  const tmp = mkdtempSync(join(parent, '.context-new-'));
  try {
    for (const [rel, data] of files) {
      const problem = contextPathProblem(rel);
      if (problem) {
        logger?.warn({ path: JSON.stringify(rel), problem }, 'not publishing context entry with an unsafe name');
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

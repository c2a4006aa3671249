import { mkdtempSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { CONTEXT_READ_LIMITS, limitWhy } from '../../../lib/context/limits.js';
import { checkContextPath, whyNot } from '../../../lib/context/rules.js';
import type { ContextFiles } from '../../../lib/context/model.js';
import { type RootFs, randomSuffix } from '../../../lib/fs/index.js';
import { PATHS } from '../state/paths.js';

/**
 * Limits on what is read off a context CD, and publishing it to /run/contextualization/context.
 * The content is hostile: bounded size and count, no path that could leave the destination.
 */

export interface ReadLimits {
  /** Most files accepted. */
  maxFiles: number;
  /** Most bytes accepted over all files. */
  maxBytes: number;
  /** Deepest directory nesting accepted. */
  maxDepth: number;
}

/** The context's own limits (lib/context/limits.ts), the same contextgen writes to. */
export const DEFAULT_LIMITS: ReadLimits = { maxFiles: CONTEXT_READ_LIMITS.files, maxBytes: CONTEXT_READ_LIMITS.totalBytes, maxDepth: CONTEXT_READ_LIMITS.depth };

export class ContextTooLargeError extends Error {
  override name = 'ContextTooLargeError';
}

/** Check an already-read file map against the limits (for the in-process ISO reader's output). */
export function checkLimits(files: ContextFiles, limits: ReadLimits, where: string): void {
  const named = { ...CONTEXT_READ_LIMITS, files: limits.maxFiles, totalBytes: limits.maxBytes };
  if (files.size > limits.maxFiles) throw new ContextTooLargeError(`${where}: ${limitWhy.files(named)}`);
  let total = 0;
  for (const data of files.values()) total += data.length;
  if (total > limits.maxBytes) throw new ContextTooLargeError(`${where}: ${limitWhy.totalBytes(named)}`);
}

const NEW_PREFIX = '.context-new-';
const OLD_PREFIX = '.context-old-';

/**
 * Write the files to the run dir's context copy (0700 dirs, 0600 files) so later stages need no device.
 * Built in a temp dir beside it and renamed into place: readers never see a half-written context,
 * and a previous context is replaced whole, never merged. Called only once the local stage has
 * accepted the context for this instance: what is published is what `final` may run.
 */
export function publishContext(fs: RootFs, files: ContextFiles, logger?: Logger): void {
  const parent = fs.ensureDir(PATHS.runDir, 0o755);
  sweepSetAside(fs);
  const tmp = mkdtempSync(join(parent, NEW_PREFIX));
  try {
    for (const [rel, data] of files) {
      const problem = whyNot(checkContextPath(rel));
      if (problem) {
        logger?.warn({ path: JSON.stringify(rel), problem }, 'not publishing context entry with an unsafe name');
        continue;
      }
      const dest = join(tmp, rel);
      mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
      writeFileSync(dest, data, { mode: 0o600, flag: 'wx' });
    }
    // rename() cannot replace a non-empty directory: move the old one aside first, then drop it.
    const old = setAside(fs);
    renameSync(tmp, fs.host(PATHS.contextDir));
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Remove the published copy (a refused or fallen-back context must leave nothing for `final` to run). */
export function unpublishContext(fs: RootFs): boolean {
  if (fs.kind(PATHS.runDir) !== 'dir') return false;
  sweepSetAside(fs);
  const old = setAside(fs);
  if (old) rmSync(old, { recursive: true, force: true });
  return old !== undefined;
}

/** Move the published dir aside (a symlink planted there is moved, never followed). */
function setAside(fs: RootFs): string | undefined {
  const kind = fs.kind(PATHS.contextDir);
  if (kind === 'absent') return undefined;
  const old = fs.host(`${PATHS.runDir}/${OLD_PREFIX}${randomSuffix()}`);
  renameSync(fs.host(PATHS.contextDir), old);
  return old;
}

/** A run killed mid-publish leaves its temp or set-aside copy behind; runs hold the lock, so any found now is stale. */
function sweepSetAside(fs: RootFs): void {
  for (const n of fs.listDir(PATHS.runDir) ?? []) {
    if (n.startsWith(NEW_PREFIX) || n.startsWith(OLD_PREFIX)) rmSync(fs.host(`${PATHS.runDir}/${n}`), { recursive: true, force: true });
  }
}

/**
 * The write policy both flavours of lib/fs follow (atomic.ts sync, atomic-async.ts async), defined
 * once: how a temp file is named and swept, which entries may be replaced, when link() no-clobber
 * falls back to a checked rename, and how a failure names the target instead of the temp file.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readdirSync, unlinkSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FsError, describeKind, kindOf } from './errors.js';

/** Temp name of a write in progress: `.<name>.<pid>.<8 hex>.tmp`, so a sweeper can tell whose it is. */
const TEMP_RE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

export function tempName(name: string): string {
  return `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** The temp path beside `target` (same directory, so same filesystem: rename and link are atomic). */
export function tempPathFor(target: string): string {
  return join(dirname(target), tempName(basename(target)));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether directory entry `entry` is a temp of `name` left by a writer that is gone (never a live writer's). */
function isStaleTemp(entry: string, name: string): boolean {
  const m = TEMP_RE.exec(entry);
  return !!m && m[1] === name && Number(m[2]) !== process.pid && !alive(Number(m[2]));
}

/**
 * A writer killed between creating its temp file and the rename leaves the temp behind; the next write
 * of the same target removes those of dead writers.
 */
export function sweepStaleTemps(dir: string, name: string): void {
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    if (isStaleTemp(e, name)) try { unlinkSync(join(dir, e)); } catch { /* raced with another sweeper */ }
  }
}

export async function sweepStaleTempsAsync(dir: string, name: string): Promise<void> {
  let entries: string[];
  try { entries = await readdir(dir); } catch { return; }
  for (const e of entries) if (isStaleTemp(e, name)) await unlink(join(dir, e)).catch(() => undefined);
}

/**
 * Only a regular file or a symlink (the link itself) is ever replaced: a FIFO, device, socket or
 * directory at the target is someone's, and /dev/null replaced by a file breaks a host.
 */
export function replaceRefusal(target: string, st: Stats | undefined): FsError | undefined {
  if (!st || st.isFile() || st.isSymbolicLink()) return undefined;
  return new FsError(`${target}: a ${describeKind(kindOf(st))} where a regular file is expected; refusing to replace it`, { code: 'ENOTREG', path: target, kind: kindOf(st) });
}

export function alreadyExists(target: string, cause?: unknown): FsError {
  return new FsError(`${target}: already exists`, { code: 'EEXIST', path: target, cause });
}

/** link(2) errors of filesystems without hard links (vfat, some FUSE and network mounts): no-clobber then renames after a check. */
export function linkUnsupported(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV';
}

/** A failure while writing `target` through `tmp`, named after the target (the errno kept as code and cause). */
export function writeFailure(target: string, tmp: string, e: unknown): FsError {
  if (e instanceof FsError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' ? 'no space left on the device' : code === 'EROFS' ? 'read-only file system' : String((e as Error).message).replaceAll(tmp, target);
  return new FsError(`${target}: cannot write: ${why}`, { code, path: target, cause: e });
}

/** A fresh random suffix, for names that must not collide (set-aside directories). */
export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

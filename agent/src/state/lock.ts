import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/**
 * One run at a time: a lock file created with O_EXCL holding "<pid> <process start time>".
 * A lock whose process is gone (no /proc/<pid>, or the pid now belongs to a process started at another
 * time) is stale and is broken. The lock lives in /run (tmpfs), so a reboot clears it anyway.
 */

export class LockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockError';
  }
}

export interface Lock {
  path: string;
  release(): void;
}

export interface LockOptions {
  /** Host path of the lock file; its directory must already be a real directory (RootFs.ensureDir). */
  lockFile: string;
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  pollMs?: number;
  logger?: Logger;
  /** Where to look up processes; tests never change it, it exists to make the dependency visible. */
  procDir?: string;
}

/** A file that exists but is still empty may be mid-write by its creator; only this old is it stale. */
const EMPTY_LOCK_GRACE_MS = 5_000;

export async function acquireLock(opts: LockOptions): Promise<Lock> {
  const { lockFile, timeoutMs = 30_000, pollMs = 100, logger, procDir = '/proc' } = opts;
  const mine = `${process.pid} ${processStartTime(procDir, process.pid) ?? '?'}\n`;
  const deadline = Date.now() + timeoutMs;
  let logged = false;
  for (;;) {
    if (tryCreate(lockFile, mine)) return makeLock(lockFile, mine);
    const seen = readOrEmpty(lockFile);
    if (seen !== undefined && isStale(lockFile, seen, procDir)) {
      logger?.warn({ lockFile, holder: seen.trim() }, 'breaking stale lock');
      breakStale(lockFile, seen);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockError(
        `${lockFile}: another contextualization run (pid ${holderPid(seen) ?? 'unknown'}) holds the lock; gave up after ${timeoutMs / 1000} s`,
      );
    }
    if (!logged) {
      logger?.info({ lockFile, holder: seen?.trim() }, 'waiting for another contextualization run to finish');
      logged = true;
    }
    await sleep(pollMs);
  }
}

function tryCreate(lockFile: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockFile, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

function makeLock(lockFile: string, mine: string): Lock {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    // Only remove the file if it is still ours (it could have been broken as stale and re-taken).
    if (readOrEmpty(lockFile) === mine) rmSync(lockFile, { force: true });
  };
  process.once('exit', release);
  return { path: lockFile, release };
}

/**
 * The lock file's content. Never through a symlink and never blocking: a FIFO or anything but a regular
 * file planted at the lock's name reads as garbage (so it is judged stale and moved aside), not as a hang.
 */
function readOrEmpty(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') return '';
    throw err;
  }
  try {
    if (!fstatSync(fd).isFile()) return '';
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function holderPid(content: string | undefined): number | undefined {
  const m = /^(\d+)/.exec(content ?? '');
  return m ? Number(m[1]) : undefined;
}

function isStale(lockFile: string, content: string, procDir: string): boolean {
  const m = /^(\d+) (\S+)\n?$/.exec(content);
  if (!m) {
    // Empty or garbage: its creator may be between open() and write(); give it a moment.
    try {
      return Date.now() - lstatSync(lockFile).mtimeMs > EMPTY_LOCK_GRACE_MS;
    } catch {
      return false;
    }
  }
  const pid = Number(m[1]);
  if (!existsSync(`${procDir}/${pid}`)) return true;
  const recorded = m[2];
  const now = processStartTime(procDir, pid);
  // Same pid, different start time: the pid was reused by an unrelated process.
  return recorded !== '?' && now !== undefined && now !== recorded;
}

/**
 * Remove a stale lock without clobbering a fresh one another process created meanwhile:
 * move it aside atomically, and if what we moved is not what we judged stale, put it back.
 */
function breakStale(lockFile: string, seen: string): void {
  const aside = `${lockFile}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lockFile, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (readOrEmpty(aside) !== seen) {
    try {
      linkSync(aside, lockFile);
    } catch {
      // Someone holds a newer lock already; theirs wins and the moved one is gone for good.
    }
  }
  rmSync(aside, { force: true });
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined. */
export function processStartTime(procDir: string, pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${procDir}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19];
}

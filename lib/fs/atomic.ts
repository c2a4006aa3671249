/**
 * Crash-safe file replacement, synchronous flavour (the agent): a temp file beside the target
 * (O_EXCL|O_NOFOLLOW, named so a later writer can sweep it if we die), fsync, then rename over the
 * target (or link() for no-clobber, which fails instead of replacing), then fsync the directory. A
 * reader, or a reboot, sees the old file or the new one, never half of one. Errors name the target,
 * never the temp file. The policy (names, sweep, what may be replaced, the link fallback) is temp.ts's,
 * shared with the async flavour (atomic-async.ts).
 */
import { closeSync, constants, fchmodSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { FsError } from './errors.js';
import { alreadyExists, linkUnsupported, replaceRefusal, sweepStaleTemps, tempPathFor, writeFailure } from './temp.js';

export interface ReplaceOptions {
  /** Fail with EEXIST instead of replacing an existing entry (atomic: link(2), not a check-then-rename). */
  noClobber?: boolean;
  /** Called with the temp file's descriptor before anything is written (e.g. to check where it really is). */
  verify?: (fd: number, tmp: string) => void;
}

/** O_EXCL: never an existing file; O_NOFOLLOW: never through a link planted at the temp name. */
export const TEMP_OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export function replaceFileAtomic(target: string, data: string | Uint8Array, mode: number, opts: ReplaceOptions = {}): void {
  writeBatchAtomic([[{ target, data, mode, ...opts }]]);
}

/** One file of a batch: where it goes, what it holds, and the options of a single replace. */
export interface BatchEntry extends ReplaceOptions {
  target: string;
  data: string | Uint8Array;
  mode: number;
}

interface Staged { entry: BatchEntry; tmp: string; fd?: number }

/**
 * Several crash-safe replaces with the flushes shared: every temp file is written first, then all are
 * fsync'ed (on a journaling filesystem the first fsync commits the lot, the rest find nothing to do),
 * then the groups are placed in order, each group's directories fsync'ed once before the next group's
 * first rename. So a group (the backups) is durable before anything of the next (the files they back
 * up) replaces an old file; each file on its own is old or new after a crash, as with replaceFileAtomic.
 * A refused target or a failed write anywhere leaves nothing placed and no temp file behind; a failure
 * while placing leaves the groups before it placed and removes the temps not yet placed.
 */
export function writeBatchAtomic(groups: BatchEntry[][]): void {
  const seen = new Set<string>();
  for (const e of groups.flat()) {
    if (seen.has(e.target)) throw new FsError(`${e.target}: written twice in one batch`, { code: 'EINVAL', path: e.target });
    seen.add(e.target);
  }
  const staged: Staged[][] = [];
  try {
    for (const g of groups) {
      const out: Staged[] = [];
      staged.push(out);
      for (const e of g) out.push(stage(e));
    }
    for (const s of staged.flat()) {
      try {
        fsyncSync(s.fd!);
        closeSync(s.fd!);
        s.fd = undefined;
      } catch (e) {
        throw writeFailure(s.entry.target, s.tmp, e);
      }
    }
    for (const g of staged) {
      const dirs = new Set<string>();
      while (g.length > 0) {
        const s = g[0]!;
        try {
          if (s.entry.noClobber) placeNoClobber(s.tmp, s.entry.target);
          else renameSync(s.tmp, s.entry.target);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST' && s.entry.noClobber) throw alreadyExists(s.entry.target, e);
          throw writeFailure(s.entry.target, s.tmp, e);
        }
        g.shift();
        dirs.add(dirname(s.entry.target));
      }
      for (const d of dirs) fsyncDir(d);
    }
  } finally {
    // Whatever was not placed: close and remove its temp file (none is left on success).
    for (const s of staged.flat()) {
      if (s.fd !== undefined) try { closeSync(s.fd); } catch { /* already closed */ }
      try { unlinkSync(s.tmp); } catch { /* already gone */ }
    }
  }
}

/** Check the target, sweep dead writers' temps, create and fill a temp file beside it (not yet fsync'ed). */
function stage(entry: BatchEntry): Staged {
  const { target, data, mode } = entry;
  let st;
  try {
    st = lstatSync(target, { throwIfNoEntry: false });
  } catch (e) {
    throw writeFailure(target, target, e); // ENOTDIR, EACCES on a parent: named after the target too
  }
  const refused = replaceRefusal(target, st);
  if (refused) throw refused;
  if (st && entry.noClobber) throw alreadyExists(target);
  sweepStaleTemps(dirname(target), basename(target));
  const tmp = tempPathFor(target);
  let fd: number;
  try {
    fd = openSync(tmp, TEMP_OPEN_FLAGS, mode);
  } catch (e) {
    throw writeFailure(target, tmp, e);
  }
  const s: Staged = { entry, tmp, fd };
  try {
    entry.verify?.(fd, tmp);
    fchmodSync(fd, mode); // the umask may have narrowed the mode given to open()
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw writeFailure(target, tmp, e);
  }
  return s;
}

function placeNoClobber(tmp: string, target: string): void {
  try {
    linkSync(tmp, target);
  } catch (e) {
    if (!linkUnsupported(e)) throw e;
    if (lstatSync(target, { throwIfNoEntry: false })) throw alreadyExists(target, e);
    renameSync(tmp, target);
    return;
  }
  unlinkSync(tmp);
}

/** fsync a directory so a rename in it survives a crash; filesystems that refuse it (tmpfs, some overlays) are fine. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

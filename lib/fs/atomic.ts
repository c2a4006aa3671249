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
  let st;
  try {
    st = lstatSync(target, { throwIfNoEntry: false });
  } catch (e) {
    throw writeFailure(target, target, e); // ENOTDIR, EACCES on a parent: named after the target too
  }
  const refused = replaceRefusal(target, st);
  if (refused) throw refused;
  if (st && opts.noClobber) throw alreadyExists(target);
  const dir = dirname(target);
  sweepStaleTemps(dir, basename(target));
  const tmp = tempPathFor(target);
  let fd: number;
  try {
    fd = openSync(tmp, TEMP_OPEN_FLAGS, mode);
  } catch (e) {
    throw writeFailure(target, tmp, e);
  }
  let open = true;
  try {
    opts.verify?.(fd, tmp);
    fchmodSync(fd, mode); // the umask may have narrowed the mode given to open()
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    if (opts.noClobber) placeNoClobber(tmp, target);
    else renameSync(tmp, target);
  } catch (e) {
    if (open) try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && opts.noClobber) throw alreadyExists(target, e);
    throw writeFailure(target, tmp, e);
  }
  fsyncDir(dir);
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

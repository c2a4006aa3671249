/**
 * Crash-safe file replacement, the one implementation: a temp file beside the target (O_EXCL|O_NOFOLLOW,
 * named so a later writer can sweep it if we die), fsync, then rename over the target (or link() for
 * no-clobber, which fails instead of replacing), then fsync the directory. A reader, or a reboot, sees
 * the old file or the new one, never half of one. Errors name the target, never the temp file.
 */
import { closeSync, constants, fchmodSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FsError, describeKind, kindOf } from './errors.js';
import { sweepStaleTemps, tempName } from './temp.js';

export interface ReplaceOptions {
  /** Fail with EEXIST instead of replacing an existing entry (atomic: link(2), not a check-then-rename). */
  noClobber?: boolean;
  /** Called with the temp file's descriptor before anything is written (e.g. to check where it really is). */
  verify?: (fd: number, tmp: string) => void;
}

export function replaceFileAtomic(target: string, data: string | Uint8Array, mode: number, opts: ReplaceOptions = {}): void {
  const st = lstatSync(target, { throwIfNoEntry: false });
  // Only a regular file or a symlink (the link itself) is ever replaced: a FIFO, device, socket or
  // directory at the target is someone's, and /dev/null replaced by a file breaks a host.
  if (st && !st.isFile() && !st.isSymbolicLink()) {
    throw new FsError(`${target}: a ${describeKind(kindOf(st))} where a regular file is expected; refusing to replace it`, { code: 'ENOTREG', path: target, kind: kindOf(st) });
  }
  if (st && opts.noClobber) throw new FsError(`${target}: already exists`, { code: 'EEXIST', path: target });
  const dir = dirname(target);
  sweepStaleTemps(dir, basename(target));
  const tmp = join(dir, tempName(basename(target)));
  const fail = (e: unknown): FsError => {
    if (e instanceof FsError) return e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'no space left on the device' : code === 'EROFS' ? 'read-only file system' : (e as Error).message.replaceAll(tmp, target);
    return new FsError(`${target}: cannot write: ${why}`, { code, path: target, cause: e });
  };
  let fd: number;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (e) {
    throw fail(e);
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
    if (opts.noClobber) {
      linkSync(tmp, target);
      unlinkSync(tmp);
    } else {
      renameSync(tmp, target);
    }
  } catch (e) {
    if (open) try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && opts.noClobber) throw new FsError(`${target}: already exists`, { code: 'EEXIST', path: target, cause: e });
    throw fail(e);
  }
  fsyncDir(dir);
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

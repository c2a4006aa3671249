/**
 * Crash-safe file replacement: write a temp file in the same directory, fsync it, rename it over the
 * target, fsync the directory. A reader (or a reboot) sees the old file or the new one, never half of one.
 */
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync, chmodSync, constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // Some filesystems (e.g. tmpfs on old kernels, overlay) refuse directory fsync; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface AtomicWriteOptions {
  mode?: number;
  /** Refuse to replace an existing file (O_EXCL semantics, checked before the rename). */
  noClobber?: boolean;
  /** Create missing parent directories with this mode. */
  mkdirMode?: number;
}

/** Temp name of a write in progress: `.<name>.<pid>.<8 hex>.tmp`. */
const TEMP_RE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A process killed between creating its temp file and the rename leaves the temp behind; the next
 * write of the same target removes those of dead writers (never a live writer's).
 */
function sweepStaleTemps(dir: string, name: string): void {
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    const m = TEMP_RE.exec(e);
    if (m && m[1] === name && Number(m[2]) !== process.pid && !alive(Number(m[2]))) {
      try { unlinkSync(join(dir, e)); } catch { /* raced with another sweeper */ }
    }
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: opts.mkdirMode ?? 0o755 });
  sweepStaleTemps(dir, basename(path));
  if (opts.noClobber && exists(path)) throw new Error(`${path}: already exists (use --force to replace it)`);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const mode = opts.mode ?? 0o644;
  // O_EXCL + O_NOFOLLOW: never follow a planted symlink at the temp name.
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, mode); // the umask may have narrowed the mode given to open()
  try {
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  fsyncDir(dir);
}

export function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

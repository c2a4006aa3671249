/**
 * The one in-root filesystem layer: every path the agent reads or writes under a root ("/" on a live
 * system, an image directory with --root) goes through a RootFs.
 *
 * Resolution is that of openat2(RESOLVE_IN_ROOT): symlinks in the *parent* directories are followed as if
 * the root were "/" (an image's absolute `/etc -> /usr/etc` stays in the image, `../../..` is clamped at
 * the root), so no path ever leads outside the root. The *last* component is never followed: a symlink
 * where a file is expected is reported as a link and never read, written, chmod'ed or deleted through.
 * Files are opened with O_NOFOLLOW (and O_NONBLOCK, so a FIFO cannot hang a read), checked with fstat,
 * and the opened descriptor's real path is checked against the root (/proc/self/fd) to close the window
 * between resolving and opening.
 */
import {
  type Stats, closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync,
  readdirSync, readlinkSync, readSync, realpathSync, renameSync, rmdirSync, symlinkSync, unlinkSync,
} from 'node:fs';
import { isAbsolute, join, normalize, resolve as resolvePath } from 'node:path';
import { FsError, describeKind, kindOf, type FileKind } from './errors.js';
import { fsyncDir, writeBatchAtomic } from './atomic.js';
import { tempName } from './temp.js';

export { FsError, type FileKind } from './errors.js';

const MAX_SYMLINK_HOPS = 40; // as the kernel's MAXSYMLINKS
const O_READ = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface ReadOptions {
  /** Refuse files larger than this (the content is hostile or the file is not what we expect). */
  maxBytes?: number;
}

export class RootFs {
  /** The root as given, for messages ("/img/etc/hosts" is what the operator sees). */
  readonly root: string;
  /** realpath of the root: what every opened descriptor must lie under. */
  private readonly real: string;

  /**
   * `live` marks a root as the running system; it is derived (root "/") except in tests, where a temp
   * dir stands in for the running system so the live-only paths (post-install) run against it.
   */
  private readonly live: boolean;

  constructor(root: string, opts: { live?: boolean } = {}) {
    this.root = resolvePath(root);
    try {
      this.real = realpathSync(this.root);
    } catch (e) {
      throw new FsError(`${this.root}: the root directory does not exist`, { code: 'ENOENT', path: this.root, cause: e });
    }
    const st = lstatSync(this.real);
    if (!st.isDirectory()) throw new FsError(`${this.root}: the root is not a directory`, { code: 'ENOTDIR', path: this.root });
    this.live = opts.live ?? this.real === '/';
  }

  get isLive(): boolean {
    return this.live;
  }

  /** Host path of an in-root path with its parents resolved in the root; the last component is not followed. */
  host(path: string): string {
    const parts = components(path);
    const name = parts.pop();
    const dir = this.resolveComponents(parts, true);
    if (dir === undefined) return join(this.real, ...parts, ...(name ? [name] : []));
    return name ? join(this.real, ...dir, name) : join(this.real, ...dir);
  }

  /** The in-root path a path designates with every symlink (the last one too) resolved in the root. */
  resolve(path: string): string | undefined {
    const done = this.resolveComponents(components(path), false);
    return done === undefined ? undefined : `/${done.join('/')}`;
  }

  lstat(path: string): Stats | undefined {
    return lstatSync(this.host(path), { throwIfNoEntry: false });
  }

  kind(path: string): FileKind {
    return kindOf(this.lstat(path));
  }

  /** Where a symlink points (its text), or undefined when the path is not a symlink. */
  readlink(path: string): string | undefined {
    const st = this.lstat(path);
    return st?.isSymbolicLink() ? readlinkSync(this.host(path)) : undefined;
  }

  /**
   * Content of a regular file; undefined when absent. Anything else there (a symlink, FIFO, device,
   * directory) is an FsError: callers that treat "not a file" as absent say so with readFileIfRegular.
   */
  readFile(path: string, opts: ReadOptions = {}): Buffer | undefined {
    const host = this.host(path);
    let fd: number;
    try {
      fd = openSync(host, O_READ);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP') throw this.notRegular(host, 'symlink');
      throw new FsError(`${host}: cannot open: ${(e as Error).message}`, { code, path: host, cause: e });
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw this.notRegular(host, kindOf(st));
      this.assertInside(fd, host);
      // No check of st.size up front: sysfs reports 4096 for every attribute; the read itself is bounded.
      return readAll(fd, st.size, opts.maxBytes, host);
    } finally {
      closeSync(fd);
    }
  }

  /** Like readFile, but a symlink, FIFO, device or directory counts as absent (a fact we must not read through). */
  readFileIfRegular(path: string, opts: ReadOptions = {}): Buffer | undefined {
    try {
      return this.readFile(path, opts);
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOTREG') return undefined;
      throw e;
    }
  }

  readText(path: string, opts: ReadOptions = {}): string | undefined {
    return this.readFile(path, opts)?.toString('utf8');
  }

  /** Names in a real directory (not one reached through a final symlink); undefined when there is none. */
  listDir(path: string): string[] | undefined {
    const host = this.host(path);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st?.isDirectory()) return undefined;
    return readdirSync(host).sort();
  }

  /**
   * Make sure `path` is a real directory the agent owns, with this mode. Missing components are created
   * one at a time (parents 0755); the directory itself must not be a symlink: its mode is set through a
   * descriptor opened with O_NOFOLLOW, so a planted link never redirects the chmod.
   */
  ensureDir(path: string, mode: number): string {
    this.mkdirs(path, mode);
    const host = this.host(path);
    let fd: number;
    try {
      fd = openSync(host, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (e) {
      throw this.notDirectory(host, e);
    }
    try {
      this.assertInside(fd, host);
      if ((fstatSync(fd).mode & 0o7777) !== mode) fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
    return host;
  }

  /** Create the missing directories of `path` (like mkdir -p, in the root); existing ones are left as they are. */
  mkdirs(path: string, mode = 0o755): void {
    const parts = components(path);
    const done: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const host = join(this.real, ...done, parts[i]!);
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (!st) {
        try {
          mkdirSync(host, { mode: i === parts.length - 1 ? mode : 0o755 });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
            throw new FsError(`${host}: cannot create the directory: ${(e as Error).message}`, { code: (e as NodeJS.ErrnoException).code, path: host, cause: e });
          }
        }
        done.push(parts[i]!);
        continue;
      }
      if (st.isSymbolicLink()) {
        // A link among the parents is followed in the root (an image's /var/run -> /run).
        const resolved = this.resolveComponents([...done, parts[i]!], false);
        const target = resolved && lstatSync(join(this.real, ...resolved), { throwIfNoEntry: false });
        if (!resolved || !target) throw new FsError(`${host}: a dangling symbolic link where a directory is expected`, { code: 'ENOTDIR', path: host });
        if (!target.isDirectory()) throw new FsError(`${host}: resolves to a ${describeKind(kindOf(target))}, not a directory`, { code: 'ENOTDIR', path: host });
        done.length = 0;
        done.push(...resolved);
        continue;
      }
      if (!st.isDirectory()) throw new FsError(`${host}: a ${describeKind(kindOf(st))} where a directory is expected`, { code: 'ENOTDIR', path: host });
      done.push(parts[i]!);
    }
  }

  /**
   * Crash-safe replace: a temp file beside the target (O_EXCL|O_NOFOLLOW), fsync, rename over it, fsync
   * the directory. A symlink at the target is replaced by the file (rename never follows); a FIFO,
   * device, socket or directory there is refused. Missing parent directories are created (0755).
   */
  writeFileAtomic(path: string, data: string | Uint8Array, mode: number): string {
    return this.writeFilesAtomic([[{ path, data, mode }]])[0]![0]!;
  }

  /**
   * Many crash-safe replaces whose flushes are shared (lib/fs/atomic.ts writeBatchAtomic): each group is
   * placed and durable before the next group's first rename, so backups go in the first group and the
   * files they back up in the next. Every target is checked before any is written. Returns the host paths.
   */
  writeFilesAtomic(groups: { path: string; data: string | Uint8Array; mode: number }[][]): string[][] {
    const batch = groups.map((g) => g.map(({ path, data, mode }) => {
      const parts = components(path);
      if (parts.length === 0) throw new FsError(`${this.root}: cannot write the root itself`, { code: 'EISDIR', path: this.root });
      this.mkdirs(`/${parts.slice(0, -1).join('/')}`);
      const host = this.host(path);
      return { target: host, data, mode, verify: (fd: number) => this.assertInside(fd, host) };
    }));
    writeBatchAtomic(batch);
    return batch.map((g) => g.map((e) => e.target));
  }

  /** Remove a file or a symlink (the link itself, never its target). Absent is fine; a directory is refused. */
  remove(path: string): boolean {
    return this.removeFiles([path]).length > 0;
  }

  /**
   * Remove files or symlinks (the links themselves), then fsync each directory once. A directory among
   * them is refused before anything is removed. Returns the in-root paths that were there.
   */
  removeFiles(paths: string[]): string[] {
    const present = paths.flatMap((path) => {
      const host = this.host(path);
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (!st) return [];
      if (st.isDirectory()) throw new FsError(`${host}: a directory where a file is expected; not removed`, { code: 'EISDIR', path: host });
      return [{ path, host }];
    });
    const dirs = new Set<string>();
    const removed: string[] = [];
    for (const { path, host } of present) {
      try {
        unlinkSync(host);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // gone meanwhile: what was wanted
        throw new FsError(`${host}: cannot remove: ${(e as Error).message}`, { code: (e as NodeJS.ErrnoException).code, path: host, cause: e });
      }
      removed.push(path);
      dirs.add(join(host, '..'));
    }
    for (const d of dirs) fsyncDir(d);
    return removed;
  }

  /** Remove an empty directory (the directory itself; a link, a file or a non-empty one is left). */
  removeEmptyDir(path: string): boolean {
    const host = this.host(path);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st?.isDirectory()) return false;
    try {
      rmdirSync(host);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new FsError(`${host}: cannot remove the empty directory: ${(e as Error).message}`, { code: (e as NodeJS.ErrnoException).code, path: host, cause: e });
    }
    fsyncDir(join(host, '..'));
    return true;
  }

  /** Create or replace a symlink at `path` (replacing only a file or a link, never a directory). */
  symlink(target: string, path: string): void {
    const parts = components(path);
    this.mkdirs(`/${parts.slice(0, -1).join('/')}`);
    const host = this.host(path);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (st && !st.isFile() && !st.isSymbolicLink()) throw this.notRegular(host, kindOf(st), 'refusing to replace it');
    const tmp = join(host, '..', tempName(parts.at(-1)!));
    symlinkSync(target, tmp);
    try {
      renameSync(tmp, host);
    } catch (e) {
      try { unlinkSync(tmp); } catch { /* already gone */ }
      throw new FsError(`${host}: cannot link: ${(e as Error).message}`, { code: (e as NodeJS.ErrnoException).code, path: host, cause: e });
    }
  }

  /** Open a read-only descriptor on what `path` resolves to in the root, for block devices and ISO images. */
  openDevice(path: string, allow: { regularFiles: boolean }): { fd: number; host: string; kind: FileKind } {
    const inRoot = this.resolve(path);
    if (!inRoot) throw new FsError(`${this.host(path)}: absent`, { code: 'ENOENT', path: this.host(path) });
    const host = join(this.real, inRoot);
    const before = kindOf(lstatSync(host, { throwIfNoEntry: false }));
    // lstat first: a FIFO or a character device is never opened (opening a FIFO blocks, reading /dev/zero never ends).
    if (before !== 'block' && !(allow.regularFiles && before === 'file')) throw this.notDevice(path, before);
    const fd = openSync(host, O_READ);
    const kind = kindOf(fstatSync(fd));
    if (kind !== before) {
      closeSync(fd);
      throw this.notDevice(path, kind);
    }
    return { fd, host, kind };
  }

  private notDevice(path: string, kind: FileKind): FsError {
    const host = this.host(path);
    return new FsError(`${host}: a ${describeKind(kind)}, not a block device; not probed`, { code: 'ENOTBLK', path: host });
  }

  private notRegular(host: string, kind: FileKind, what = 'not read'): FsError {
    return new FsError(`${host}: a ${describeKind(kind)} where a regular file is expected; ${what}`, { code: 'ENOTREG', path: host, kind });
  }

  private notDirectory(host: string, cause: unknown): FsError {
    const st = lstatSync(host, { throwIfNoEntry: false });
    return new FsError(`${host}: a ${describeKind(kindOf(st))} where the agent's directory is expected; refusing to use it`, { code: 'ENOTDIR', path: host, cause });
  }

  /** The descriptor's real path must lie under the root (a component swapped for a link after resolving). */
  private assertInside(fd: number, host: string): void {
    if (this.real === '/') return;
    let real: string;
    try {
      real = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return; // no /proc: the resolution above is all we have
    }
    if (real !== this.real && !real.startsWith(`${this.real}/`)) {
      throw new FsError(`${host}: resolves outside the root ${this.root} (to ${real}); refusing`, { code: 'EXDEV', path: host });
    }
  }

  /**
   * Walk components in the root. `parentsOnly` keeps going through absent components (a path that does
   * not exist yet still has a host path); otherwise an absent component ends the walk with undefined.
   */
  private resolveComponents(parts: string[], parentsOnly: boolean): string[] | undefined {
    const todo = [...parts];
    const done: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.shift()!;
      if (c === '..') {
        done.pop(); // clamped at the root, as the kernel does for "/.."
        continue;
      }
      const host = join(this.real, ...done, c);
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (!st) {
        if (!parentsOnly) return undefined;
        done.push(c, ...todo.filter((x) => x !== '..'));
        return done;
      }
      if (!st.isSymbolicLink()) {
        done.push(c);
        continue;
      }
      if (++hops > MAX_SYMLINK_HOPS) throw new FsError(`${host}: too many levels of symbolic links`, { code: 'ELOOP', path: host });
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
    }
    return done;
  }
}

/** Components of a normalised absolute in-root path; anything else is refused (it came from a bug or an attack). */
export function components(path: string): string[] {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (!isAbsolute(path) || path.includes('\0') || normalize(trimmed) !== trimmed) {
    throw new FsError(`refusing unsafe path ${JSON.stringify(path)}: not a normalised absolute path`, { code: 'EINVAL', path });
  }
  return path.split('/').filter((c) => c !== '');
}

function readAll(fd: number, size: number, max: number | undefined, host: string): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(Math.max(4096, Math.min(size + 1, 1 << 20)));
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n <= 0) break;
    total += n;
    if (max !== undefined && total > max) throw new FsError(`${host}: more than the ${max} bytes expected; not read`, { code: 'EFBIG', path: host });
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks, total);
}

/**
 * The effectful edge: atomic, no-clobber file writes with rollback.
 *
 * A write goes to a temp file in the target's directory (same filesystem), is fsynced, then put in
 * place: with link() when the target must not exist (atomic no-clobber: EEXIST if someone created it
 * meanwhile) or rename() when overwriting is allowed (--force). Directories are fsynced once per batch
 * of writes so the new names survive a crash.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { lstat, mkdir, open, rename, link, unlink, rmdir, chmod } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { invalid } from './errors.js';

/** Where command output goes; main() passes the process streams, tests pass collectors. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Whether stderr is an interactive terminal (progress bars only then). */
  isTTY: boolean;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
}

/** Throws the standard refusal when `path` exists and overwriting was not asked for. */
export async function refuseExisting(path: string, force: boolean, what = 'output'): Promise<void> {
  if (!force && (await exists(path))) throw invalid(path, undefined, undefined, `${what} exists; use --force to overwrite`);
}

export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes, fsyncs and closes a new temp file; the caller puts it in place. */
async function writeTemp(tmp: string, data: Buffer | string, mode: number): Promise<void> {
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed the mode given to open()
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Puts a finished temp file at `path`. Without overwrite, link() fails with EEXIST if the target
 * appeared since validation (never clobbers); filesystems without hard links fall back to a checked rename.
 */
export async function placeFile(tmp: string, path: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(tmp, path);
    return;
  }
  try {
    await link(tmp, path);
    await unlink(tmp);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      await unlink(tmp).catch(() => undefined);
      throw invalid(path, undefined, undefined, 'output appeared while writing; refusing to overwrite (use --force)');
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw e;
    if (await exists(path)) {
      await unlink(tmp).catch(() => undefined);
      throw invalid(path, undefined, undefined, 'output exists; use --force to overwrite');
    }
    await rename(tmp, path);
  }
}

/**
 * A set of writes that either all land or are undone. Files and directories this run created are
 * removed on rollback; files replaced under --force cannot be restored (said in the README).
 */
export class WriteTxn {
  private readonly createdFiles: string[] = [];
  private readonly createdDirs: string[] = [];
  private readonly dirsToSync = new Set<string>();

  constructor(private readonly overwrite: boolean) {}

  /** mkdir -p, remembering which levels were new. */
  async mkdirp(dir: string): Promise<void> {
    const missing: string[] = [];
    for (let d = dir; !(await exists(d)); d = dirname(d)) {
      missing.unshift(d);
      if (dirname(d) === d) break;
    }
    for (const d of missing) {
      await mkdir(d, { mode: 0o755 });
      this.createdDirs.push(d);
      this.dirsToSync.add(dirname(d));
    }
  }

  /** Puts a synced temp file in place and records it (created files are rolled back on failure). */
  private async place(tmp: string, path: string, replace: boolean): Promise<void> {
    const existed = replace && (await exists(path));
    await placeFile(tmp, path, replace);
    if (!existed) this.createdFiles.push(path);
    this.dirsToSync.add(dirname(path));
  }

  /** `replace`: whether an existing file may be replaced (default: the transaction's --force). */
  async writeFile(path: string, data: Buffer | string, mode = 0o644, replace = this.overwrite): Promise<void> {
    const tmp = tempNameFor(path);
    try {
      await writeTemp(tmp, data, mode);
      await this.place(tmp, path, replace);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  /** Adopts a file produced by an external tool at a temp path (e.g. qemu-img) and puts it in place. */
  async adoptTemp(tmp: string, path: string, mode?: number, replace = this.overwrite): Promise<void> {
    try {
      if (mode !== undefined) await chmod(tmp, mode);
      const fh = await open(tmp, fsc.O_RDONLY);
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.place(tmp, path, replace);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  /** Makes the new directory entries durable. */
  async commit(): Promise<void> {
    for (const d of this.dirsToSync) await fsyncDir(d);
    this.dirsToSync.clear();
  }

  async rollback(): Promise<void> {
    for (const f of this.createdFiles.reverse()) await unlink(f).catch(() => undefined);
    for (const d of this.createdDirs.reverse()) await rmdir(d).catch(() => undefined);
    this.createdFiles.length = 0;
    this.createdDirs.length = 0;
  }

  get filesWritten(): number {
    return this.createdFiles.length;
  }
}

/** One file, all or nothing: the common case for single-output commands. */
export async function writeOneFile(path: string, data: Buffer | string, opts: { force: boolean; mode?: number }): Promise<void> {
  const txn = new WriteTxn(opts.force);
  try {
    await txn.writeFile(path, data, opts.mode ?? 0o644);
    await txn.commit();
  } catch (e) {
    await txn.rollback();
    throw e;
  }
}

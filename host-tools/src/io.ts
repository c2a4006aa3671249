/**
 * The effectful edge: atomic, no-clobber file writes with rollback, over lib/fs's async flavour
 * (atomic-async.ts: temp beside the target, fsync, link() no-clobber or rename() with --force, stale
 * temps swept; the same policy as the agent's writes). This layer adds contextgen's wording of failures
 * (always the real output path) and transactions. Directories are fsynced once per batch of writes.
 */
import { FsError, describeKind, kindOf as fsKindOf } from '../../lib/fs/errors.js';
import { fsyncDirAsync, placeFile as placeFsFile, syncFile, writeTempFile } from '../../lib/fs/atomic-async.js';
import { tempPathFor } from '../../lib/fs/temp.js';
import type { Stats } from 'node:fs';
import { lstat, mkdir, unlink, rmdir, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ContextError } from '../../lib/context/errors.js';
import { ExternalError, invalid } from './errors.js';

/** Where command output goes; main() passes the process streams, tests pass collectors. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Whether stderr is an interactive terminal (progress bars only then). */
  isTTY: boolean;
  /** Where progress bars are drawn (the process's stderr; a test passes its own terminal-like stream). */
  progress?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
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

/** What an lstat found, in words, for refusals (the agent's fs layer names kinds the same way). */
function kindOf(st: Stats): string {
  return `a ${describeKind(fsKindOf(st))}`;
}

/**
 * Why `path` may not be written as an output, or undefined. Without --force nothing may exist there;
 * with it, only a regular file or a symlink (replaced as a link by rename(), never written through).
 * A device node, FIFO, socket or directory is never replaced: `-o /dev/null --force` must not break the host.
 */
export async function outputProblem(path: string, force: boolean): Promise<string | undefined> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return 'a parent of this path is not a directory';
    return `cannot check the output: ${errnoText(e)}`;
  }
  if (!force) return 'output exists; use --force to overwrite';
  if (st.isFile() || st.isSymbolicLink()) return undefined;
  return `is ${kindOf(st)}; --force replaces only regular files`;
}

/** "no space left on device (ENOSPC)": the errno text without Node's syscall and (temp) path. */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string') return err instanceof Error ? err.message : String(e);
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(err.message);
  return m ? `${m[1]} (${err.code})` : err.code;
}

/**
 * An fs failure while producing `path`, named after `path` (never the temp file it went through), as
 * contextgen reports it: a refusal (exit 1) when the output appeared or became something else meanwhile,
 * else an I/O failure (exit 3) with the errno.
 */
export function writeFailure(path: string, e: unknown): unknown {
  if (e instanceof ContextError || e instanceof ExternalError) return e;
  if (e instanceof FsError) {
    if (e.code === 'EEXIST') return invalid(path, undefined, undefined, 'output appeared while writing; refusing to overwrite (use --force)');
    if (e.code === 'ENOTREG') return invalid(path, undefined, undefined, `is a ${describeKind(e.kind ?? 'file')}; --force replaces only regular files`);
    return new ExternalError(`${path}: cannot write: ${errnoText(e.cause ?? e)}`, { cause: e });
  }
  if (typeof (e as NodeJS.ErrnoException)?.code !== 'string') return e;
  return new ExternalError(`${path}: cannot write: ${errnoText(e)}`, { cause: e });
}

/** The temp path a write of `path` goes through (lib/fs's naming, so its sweep applies). */
export const tempNameFor = tempPathFor;

export const fsyncDir = fsyncDirAsync;

/**
 * Puts a finished temp file at `path`. Without overwrite, link() fails if the target appeared since
 * validation (never clobbers); filesystems without hard links fall back to a checked rename (lib/fs).
 */
export async function placeFile(tmp: string, path: string, overwrite: boolean): Promise<void> {
  try {
    await placeFsFile(tmp, path, { noClobber: !overwrite });
  } catch (e) {
    throw writeFailure(path, e);
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
    try {
      for (const d of missing) {
        await mkdir(d, { mode: 0o755 });
        this.createdDirs.push(d);
        this.dirsToSync.add(dirname(d));
      }
    } catch (e) {
      throw writeFailure(missing[this.createdDirs.length] ?? dir, e);
    }
  }

  /** A directory the batch writes into: must be a real directory, never a symlink (lstat, not stat). */
  async mkdirOwn(dir: string): Promise<void> {
    await this.mkdirp(dir);
    const st = await lstat(dir);
    if (!st.isDirectory()) throw invalid(dir, undefined, undefined, `is ${st.isSymbolicLink() ? 'a symlink' : kindOf(st)}, not a VM directory; refusing to write through it`);
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
    try {
      const tmp = await writeTempFile(path, data, mode);
      await this.place(tmp, path, replace);
    } catch (e) {
      throw writeFailure(path, e);
    }
  }

  /** Adopts a file produced by an external tool at a temp path (e.g. qemu-img) and puts it in place. */
  async adoptTemp(tmp: string, path: string, mode?: number, replace = this.overwrite): Promise<void> {
    try {
      if (mode !== undefined) await chmod(tmp, mode);
      await syncFile(tmp);
      await this.place(tmp, path, replace);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw writeFailure(path, e);
    }
  }

  /** Makes the new directory entries durable. */
  async commit(): Promise<void> {
    for (const d of this.dirsToSync) await fsyncDir(d).catch((e: unknown) => Promise.reject(writeFailure(d, e)));
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

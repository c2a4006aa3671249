/**
 * Crash-safe file writes, asynchronous flavour (contextgen): the same steps and policy as atomic.ts
 * (temp.ts: names, sweep, what may be replaced, link() no-clobber and its fallback, errors naming the
 * target), split in two so a caller can put a file made by another tool (qemu-img) in place the same way:
 * writeTempFile, then placeFile; fsyncDirAsync once per directory after a batch of placements.
 */
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { link, lstat, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { TEMP_OPEN_FLAGS } from './atomic.js';
import { alreadyExists, linkUnsupported, replaceRefusal, sweepStaleTempsAsync, tempPathFor, writeFailure } from './temp.js';

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A new temp file beside `target` holding `data`, fsynced (stale temps of dead writers swept first). */
export async function writeTempFile(target: string, data: string | Uint8Array, mode: number): Promise<string> {
  await sweepStaleTempsAsync(dirname(target), basename(target));
  const tmp = tempPathFor(target);
  let fh;
  try {
    fh = await open(tmp, TEMP_OPEN_FLAGS, mode);
  } catch (e) {
    throw writeFailure(target, tmp, e);
  }
  try {
    await fh.chmod(mode); // the umask may have narrowed the mode given to open()
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw writeFailure(target, tmp, e);
  }
  await fh.close();
  return tmp;
}

/** fsync an existing file (one another tool wrote) before it is put in place. */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Puts a finished temp file at `target`: rename() over a regular file or symlink, or with `noClobber`
 * link(), which fails with EEXIST if the target appeared meanwhile. The temp is removed on any failure;
 * errors are FsErrors naming the target (ENOTREG, EEXIST, or the errno).
 */
export async function placeFile(tmp: string, target: string, opts: { noClobber: boolean }): Promise<void> {
  try {
    if (!opts.noClobber) {
      // Checked here, not only before: something may have been put at the target since.
      const refused = replaceRefusal(target, await lstatOrUndefined(target));
      if (refused) throw refused;
      await rename(tmp, target);
      return;
    }
    try {
      await link(tmp, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(target, e);
      if (!linkUnsupported(e)) throw e;
      if (await lstatOrUndefined(target)) throw alreadyExists(target, e);
      await rename(tmp, target);
      return;
    }
    await unlink(tmp);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw writeFailure(target, tmp, e);
  }
}

/** The whole write: temp, fsync, place, fsync of the directory (failures of that last fsync are ignored, as in atomic.ts). */
export async function replaceFileAtomicAsync(target: string, data: string | Uint8Array, mode: number, opts: { noClobber?: boolean } = {}): Promise<void> {
  const st = await lstatOrUndefined(target).catch((e: unknown) => Promise.reject(writeFailure(target, target, e)));
  const refused = replaceRefusal(target, st);
  if (refused) throw refused;
  if (st && opts.noClobber) throw alreadyExists(target);
  const tmp = await writeTempFile(target, data, mode);
  await placeFile(tmp, target, { noClobber: !!opts.noClobber });
  await fsyncDirAsync(dirname(target)).catch(() => undefined);
}

/** fsync a directory so the names placed in it survive a crash. */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

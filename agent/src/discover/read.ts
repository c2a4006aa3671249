import { closeSync, mkdtempSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runProgram } from '../system/exec.js';
import type { Logger } from 'pino';
import type { ContextFiles } from '../../../lib/context/model.js';
import { RootFs } from '../../../lib/fs/index.js';
import { openIso, readAllFiles } from '../../../lib/iso9660/index.js';
import { readContextDir } from '../../../lib/context/index.js';
import { PATHS } from '../state/paths.js';
import { type ReadLimits, checkLimits } from './tree.js';

/**
 * Two ways to get the files off a context CD:
 * - mount: the kernel's iso9660 driver, read-only, into a private dir, always unmounted afterwards;
 * - reader: our in-process ISO 9660 reader, for when mounting is impossible (no iso9660 driver, not
 *   root, an image root). It reads block devices and ISO files alike.
 */

export type ReadMethod = 'mount' | 'reader';

/**
 * Run `fn` on a device of the root through a descriptor opened after checking what it is (a block
 * device; in an image root also an ISO file), so a FIFO or /dev/zero swapped in is never read.
 * Errors name the device, not the descriptor.
 */
export function withDevice<T>(fs: RootFs, device: string, fn: (path: string) => T, regularFiles = !fs.isLive): T {
  const { fd, host } = fs.openDevice(device, { regularFiles });
  const viaFd = `/proc/self/fd/${fd}`;
  try {
    return fn(viaFd);
  } catch (e) {
    if (e instanceof Error) e.message = e.message.replaceAll(viaFd, host);
    throw e;
  } finally {
    closeSync(fd);
  }
}

function readIso(path: string, where: string, limits: ReadLimits): ContextFiles {
  // The reader's own defaults are the context's limits (lib/context/limits.ts); only what a caller narrows is passed.
  const img = openIso(path, { maxTotalSize: limits.maxBytes, maxDepth: limits.maxDepth, maxFiles: limits.maxFiles });
  try {
    const files = readAllFiles(img);
    checkLimits(files, limits, where);
    return files;
  } finally {
    img.close();
  }
}

/** Read a context CD of the root with the in-process reader; its limits bound memory, not the image size. */
export function readWithReader(fs: RootFs, device: string, limits: ReadLimits): ContextFiles {
  return withDevice(fs, device, (path) => readIso(path, fs.host(device), limits));
}

/** `--iso FILE`: an operator's ISO file (or a block device) on the host. */
export function readIsoFile(file: string, limits: ReadLimits): ContextFiles {
  const host = new RootFs('/');
  const abs = file.startsWith('/') ? file : join(process.cwd(), file);
  return withDevice(host, abs, (path) => readIso(path, file, limits), true);
}

export type MountOutcome = { ok: true; files: ContextFiles } | { ok: false; why: string };

/**
 * Mount the device read-only under a private dir in the run dir, copy the tree, and always unmount
 * (plain umount with a few retries for a busy mount, lazy umount as a last resort).
 * `ok: false` means mounting was impossible (no driver, no permission): the caller falls back to the reader.
 * A failure while reading the mounted tree (e.g. too large) is thrown, after unmounting.
 */
export async function readWithMount(fs: RootFs, device: string, limits: ReadLimits, logger: Logger): Promise<MountOutcome> {
  const resolved = fs.resolve(device);
  if (!resolved || fs.kind(resolved) !== 'block') return { ok: false, why: `${device} is not a block device` };
  const mountBase = fs.ensureDir(PATHS.mountDir, 0o700);
  const dir = mkdtempSync(join(mountBase, 'cd-'));
  const mounted = await runProgram('mount', ['-t', 'iso9660', '-o', 'ro,nosuid,nodev,noexec', fs.host(resolved), dir], {
    reject: false,
    timeout: 15_000,
  });
  if (mounted.exitCode !== 0) {
    rmdirSync(dir);
    const why = (mounted.stderr || mounted.shortMessage || `exit ${mounted.exitCode}`).trim().split('\n')[0] ?? '';
    return { ok: false, why };
  }
  try {
    // The shared directory reader: regular files only, no symlink, per-file size caps.
    const files = await readContextDir(dir);
    checkLimits(files, limits, device);
    return { ok: true, files };
  } finally {
    await unmount(dir, logger);
  }
}

async function unmount(dir: string, logger: Logger): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await runProgram('umount', [dir], { reject: false, timeout: 10_000 });
    if (r.exitCode === 0) {
      rmdirSync(dir);
      return;
    }
    logger.warn({ dir, attempt, err: r.stderr.trim() }, 'umount failed');
    await sleep(200 * attempt);
  }
  // Still busy: detach it now so the CD is released as soon as nothing uses it. The dir stays (it is in /run).
  const lazy = await runProgram('umount', ['-l', dir], { reject: false, timeout: 10_000 });
  if (lazy.exitCode !== 0) logger.error({ dir, err: lazy.stderr.trim() }, 'lazy umount failed; the context CD stays mounted');
  else logger.warn({ dir }, 'context CD lazily unmounted');
}

import { mkdtempSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Logger } from 'pino';
import type { ContextFiles } from '../../../lib/context/model.js';
import { openIso, readAllFiles } from '../../../lib/iso9660/index.js';
import { ensureDir } from '../state/atomic.js';
import { readContextDir } from '../../../lib/context/index.js';
import { type ReadLimits, checkLimits } from './tree.js';

/**
 * Two ways to get the files off a context CD:
 * - mount: the kernel's iso9660 driver, read-only, into a private dir, always unmounted afterwards;
 * - reader: our in-process ISO 9660 reader, for when mounting is impossible (no iso9660 driver, not
 *   root, an image root). It reads block devices and ISO files alike.
 */

export type ReadMethod = 'mount' | 'reader';

/** Read an ISO (file or device) with the in-process reader; its own limits bound memory, not the image size. */
export function readWithReader(hostPath: string, limits: ReadLimits): ContextFiles {
  const img = openIso(hostPath, {
    maxTotalSize: limits.maxBytes,
    maxFileSize: limits.maxBytes,
    maxDepth: limits.maxDepth,
    // Directories count as entries too: leave room for them.
    maxEntries: limits.maxFiles * 2,
  });
  try {
    const files = readAllFiles(img);
    checkLimits(files, limits, hostPath);
    return files;
  } finally {
    img.close();
  }
}

export type MountOutcome = { ok: true; files: ContextFiles } | { ok: false; why: string };

/**
 * Mount the device read-only under a private dir in runDir, copy the tree, and always unmount
 * (plain umount with a few retries for a busy mount, lazy umount as a last resort).
 * `ok: false` means mounting was impossible (no driver, no permission): the caller falls back to the reader.
 * A failure while reading the mounted tree (e.g. too large) is thrown, after unmounting.
 */
export async function readWithMount(device: string, runDir: string, limits: ReadLimits, logger: Logger): Promise<MountOutcome> {
  const mountBase = join(runDir, 'mnt');
  ensureDir(mountBase, 0o700);
  const dir = mkdtempSync(join(mountBase, 'cd-'));
  const mounted = await execa('mount', ['-t', 'iso9660', '-o', 'ro,nosuid,nodev,noexec', device, dir], {
    reject: false,
    timeout: 15_000,
    stdin: 'ignore',
  });
  if (mounted.exitCode !== 0) {
    rmdirSync(dir);
    const why = (mounted.stderr || mounted.shortMessage || `exit ${mounted.exitCode}`).trim().split('\n')[0] ?? '';
    return { ok: false, why };
  }
  try {
    // The shared directory reader: regular files only, no symlink out of the tree, per-file size caps.
    const files = await readContextDir(dir);
    checkLimits(files, limits, device);
    return { ok: true, files };
  } finally {
    await unmount(dir, logger);
  }
}

async function unmount(dir: string, logger: Logger): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await execa('umount', [dir], { reject: false, timeout: 10_000, stdin: 'ignore' });
    if (r.exitCode === 0) {
      rmdirSync(dir);
      return;
    }
    logger.warn({ dir, attempt, err: r.stderr.trim() }, 'umount failed');
    await sleep(200 * attempt);
  }
  // Still busy: detach it now so the CD is released as soon as nothing uses it. The dir stays (it is in /run).
  const lazy = await execa('umount', ['-l', dir], { reject: false, timeout: 10_000, stdin: 'ignore' });
  if (lazy.exitCode !== 0) logger.error({ dir, err: lazy.stderr.trim() }, 'lazy umount failed; the context CD stays mounted');
  else logger.warn({ dir }, 'context CD lazily unmounted');
}

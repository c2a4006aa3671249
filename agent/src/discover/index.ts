import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runProgram } from '../system/exec.js';
import type { Logger } from 'pino';
import { hasContextLayout } from '../../../lib/context/index.js';
import { type ContextFiles, DEFAULT_VOLUME_LABEL } from '../../../lib/context/model.js';
import { FsError, type RootFs } from '../../../lib/fs/index.js';
import { readVolumeId } from '../../../lib/iso9660/index.js';
import { type MountOutcome, type ReadMethod, readWithMount, readWithReader, withDevice } from './read.js';
import { ContextTooLargeError, DEFAULT_LIMITS, type ReadLimits } from './tree.js';

const NO_LAYOUT = 'no context layout (none of common/network, common/context.ini, post-install)';

export { publishContext, unpublishContext, DEFAULT_LIMITS, ContextTooLargeError, type ReadLimits } from './tree.js';
export { readIsoFile as readContextIso } from './read.js';

/**
 * Finding the context CD.
 *
 * Candidates: the Snooze device names (kept for compatibility; /dev/hdb no longer exists on libata
 * kernels) plus every disk-like block device in /sys/block. A candidate is read only if its ISO 9660
 * volume label (primary volume descriptor, sector 16: no blkid needed) is the configured one, or the
 * generic "CDROM" (genisoimage's default, what unlabelled Snooze ISOs carry) when legacy labels are
 * accepted; and it is trusted only if it holds a context layout. Devices may appear late (udev, a slow
 * virtual CD): we settle udev and poll until a deadline.
 */

export const CLASSIC_DEVICES = ['/dev/hdb', '/dev/sdb', '/dev/vdb', '/dev/xvdb', '/dev/sr0'] as const;
/** genisoimage/mkisofs default volume id: what a Snooze ISO built with `genisoimage -RJ` carries. */
export const LEGACY_LABEL = 'CDROM';
/** Block devices worth probing; loop, ram, zram, dm, md, nbd... never hold the context CD. */
const SCANNED_PREFIXES = /^(sr|vd|sd|xvd|hd)[a-z0-9]+$/;

export interface DiscoverOptions {
  /** "/" on a live system; an image or fake root (its /sys/block and /dev are used). */
  fs: RootFs;
  /** Fixed device paths (in the root) probed first, in order. Default CLASSIC_DEVICES. */
  devices?: readonly string[];
  /** Expected ISO volume label (case-insensitive). Default CONTEXT. */
  label?: string;
  /** Also accept label CDROM when the layout checks out. Default true. */
  acceptLegacyLabel?: boolean;
  /** The longest wait for a late device while udev still has events queued. Default 10 s. */
  timeoutMs?: number;
  pollMs?: number;
  limits?: ReadLimits;
  /**
   * The built-in ISO reader always reads first. auto: when it cannot make sense of a labelled medium,
   * and the root is / and we are root, the kernel's iso9660 driver gets a try (mount, copy, umount).
   */
  mount?: 'auto' | 'never';
  logger: Logger;
}

export interface Rejection {
  device: string;
  reason: string;
}

export interface FoundContext {
  found: true;
  /** Device path as named in the root (e.g. /dev/sr0). */
  device: string;
  label: string;
  /** Accepted through the generic CDROM label. */
  legacyLabel: boolean;
  method: ReadMethod;
  durationMs: number;
  files: ContextFiles;
  rejected: Rejection[];
}

export interface NoContextFound {
  found: false;
  durationMs: number;
  reason: string;
  rejected: Rejection[];
}

export type DiscoveryResult = FoundContext | NoContextFound;

interface Candidate {
  device: string;
  label: string;
  legacy: boolean;
}

/** systemd-udevd keeps this file while it has events queued (what `udevadm settle` waits on). */
const UDEV_QUEUE = '/run/udev/queue';

export async function discoverContext(opts: DiscoverOptions): Promise<DiscoveryResult> {
  const t0 = performance.now();
  const fs = opts.fs;
  const log = opts.logger.child({ step: 'discover' });
  const label = (opts.label ?? DEFAULT_VOLUME_LABEL).trim();
  const acceptLegacy = opts.acceptLegacyLabel ?? true;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pollMs = opts.pollMs ?? 250;
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const deadline = Date.now() + timeoutMs;
  const canMount = (opts.mount ?? 'auto') === 'auto' && fs.isLive && process.getuid?.() === 0;

  const rejected = new Map<string, string>();
  // Devices already read and found wanting, keyed by identity: not re-read on every poll.
  const badContent = new Map<string, string>();
  let mountBroken: string | undefined;
  let scans = 0;

  for (;;) {
    scans++;
    const candidates = probeAll(fs, opts.devices ?? CLASSIC_DEVICES, label, acceptLegacy, rejected);
    for (const c of candidates) {
      const key = identity(fs, c.device);
      const known = badContent.get(key);
      if (known) {
        rejected.set(c.device, known);
        continue;
      }
      const read = await readCandidate(fs, c, limits, canMount && !mountBroken, log);
      if (!read.ok) {
        if (read.mountFailed) mountBroken = read.mountFailed;
        badContent.set(key, read.reason);
        rejected.set(c.device, read.reason);
        continue;
      }
      const { files, method } = read;
      rejected.delete(c.device);
      const durationMs = Math.round(performance.now() - t0);
      log.info(
        { device: c.device, label: c.label, method, durationMs, files: files.size, scans, legacyLabel: c.legacy },
        `context found on ${c.device}${c.legacy ? ' (generic CDROM label accepted: layout checked)' : ''}`,
      );
      return { found: true, device: c.device, label: c.label, legacyLabel: c.legacy, method, durationMs, files, rejected: toList(rejected) };
    }

    // Wait only while udev is still working through device events, never for a device nobody announced:
    // a VM without a CD drive, or with an empty tray, is decided at once.
    const left = deadline - Date.now();
    if (left <= 0 || fs.kind(UDEV_QUEUE) === 'absent') break;
    if (fs.isLive) await udevSettle(deadline, log);
    else await sleep(Math.min(pollMs, left));
  }

  const durationMs = Math.round(performance.now() - t0);
  const list = toList(rejected);
  const waited = scans > 1 ? ` after ${durationMs} ms` : '';
  const reason =
    list.length === 0
      ? `no context CD: no candidate device${waited}`
      : `no context CD${waited}: ${list.map((r) => `${r.device}: ${r.reason}`).join('; ')}`;
  log.info({ durationMs, scans, rejected: list }, reason);
  return { found: false, durationMs, reason, rejected: list };
}

type CandidateRead =
  | { ok: true; files: ContextFiles; method: ReadMethod }
  | { ok: false; reason: string; mountFailed?: string };

/**
 * Read one labelled candidate. The built-in reader first: it reads ISO 9660 with Rock Ridge and
 * Joliet (what genisoimage, xorriso and contextgen write) in a few ms, within the limits, and keeps
 * untrusted media away from the kernel's iso9660 driver; under emulation mount(8) + isofs + umount
 * cost seconds of the boot. The driver is the fallback for a medium the reader cannot parse or finds
 * no context on (e.g. zisofs-compressed files), when mounting is allowed. Too large is final.
 */
async function readCandidate(fs: RootFs, c: { device: string; label: string }, limits: ReadLimits, mayMount: boolean, log: Logger): Promise<CandidateRead> {
  const refused = (why: string, mountFailed?: string): CandidateRead => ({ ok: false, reason: `label ${c.label} but ${why}`, mountFailed });
  const unreadable = (err: unknown): string => `unreadable: ${(err as Error).message}`;
  let readerWhy: string;
  try {
    const files = readWithReader(fs, c.device, limits);
    if (hasContextLayout(files)) return { ok: true, files, method: 'reader' };
    readerWhy = NO_LAYOUT;
  } catch (err) {
    if (err instanceof ContextTooLargeError) return refused(unreadable(err));
    readerWhy = unreadable(err);
  }
  if (!mayMount) return refused(readerWhy);
  let viaMount: MountOutcome;
  try {
    viaMount = await readWithMount(fs, c.device, limits, log);
  } catch (err) {
    return refused(unreadable(err)); // e.g. too large once mounted
  }
  if (!viaMount.ok) {
    log.info({ device: c.device, reader: readerWhy, mount: viaMount.why }, 'the built-in ISO reader could not use the context CD, and mounting it failed');
    return refused(readerWhy, viaMount.why);
  }
  if (!hasContextLayout(viaMount.files)) return refused(NO_LAYOUT);
  log.info({ device: c.device, reader: readerWhy }, 'the built-in ISO reader could not use the context CD; read it through the kernel mount');
  return { ok: true, files: viaMount.files, method: 'mount' };
}

function toList(m: Map<string, string>): Rejection[] {
  return [...m].map(([device, reason]) => ({ device, reason }));
}

/** Stable identity of a device or file, so the same medium is not re-read every poll. */
function identity(fs: RootFs, device: string): string {
  const resolved = fs.resolve(device) ?? device;
  const st = fs.lstat(resolved);
  return st ? `${resolved}:${st.dev}:${st.ino}:${st.rdev}:${st.size}:${st.mtimeMs}` : resolved;
}

/** Device paths (in the root) to probe: the fixed list first, then /sys/block, each once. */
export function candidateDevices(fs: RootFs, fixed: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (dev: string): void => {
    const key = fs.resolve(dev) ?? dev; // /dev/cdrom and /dev/sr0 are one device
    if (seen.has(key)) return;
    seen.add(key);
    out.push(dev);
  };
  for (const d of fixed) add(d);
  // No sysfs (chroot, odd container): the fixed list is all we have.
  const names = fs.listDir('/sys/block') ?? [];
  for (const name of names.filter((n) => SCANNED_PREFIXES.test(n)).sort()) add(`/dev/${name}`);
  return out;
}

/**
 * Probe every candidate's volume label; return the acceptable ones, configured label first.
 * Only block devices are opened (an image root may also hold ISO files at device names): a FIFO or a
 * character device at a probed name is rejected from lstat, never opened.
 */
function probeAll(fs: RootFs, fixed: readonly string[], label: string, acceptLegacy: boolean, rejected: Map<string, string>): Candidate[] {
  const wanted = label.toUpperCase();
  const good: Candidate[] = [];
  const legacy: Candidate[] = [];
  for (const device of candidateDevices(fs, fixed)) {
    if (fs.resolve(device) === undefined) continue; // not a rejection: most of the classic names never exist
    if (hasNoMedium(fs, device)) {
      rejected.set(device, 'no medium');
      continue;
    }
    let volumeId: string | undefined;
    try {
      volumeId = withDevice(fs, device, (path) => readVolumeId(path));
    } catch (err) {
      const notDevice = err instanceof FsError && err.code === 'ENOTBLK';
      rejected.set(device, notDevice ? err.message : `cannot read: ${(err as Error).message}`);
      continue;
    }
    if (volumeId === undefined) {
      rejected.set(device, 'no ISO 9660 volume');
      continue;
    }
    const got = volumeId.trim();
    if (got.toUpperCase() === wanted) {
      good.push({ device, label: got, legacy: false });
    } else if (acceptLegacy && got.toUpperCase() === LEGACY_LABEL) {
      legacy.push({ device, label: got, legacy: true });
    } else {
      const also = acceptLegacy ? ` or ${LEGACY_LABEL}` : '';
      rejected.set(device, `ISO 9660 label ${JSON.stringify(got)} is not ${label}${also}`);
    }
  }
  return [...good, ...legacy];
}

/** An empty CD tray shows as a block device of size 0; reading it would only give ENOMEDIUM. */
function hasNoMedium(fs: RootFs, device: string): boolean {
  const name = (fs.resolve(device) ?? device).split('/').pop() ?? '';
  try {
    return fs.readText(`/sys/block/${name}/size`, { maxBytes: 64 })?.trim() === '0';
  } catch {
    return false;
  }
}

const UDEVADM = ['/usr/bin/udevadm', '/bin/udevadm', '/usr/sbin/udevadm', '/sbin/udevadm'];

/** Let udev finish the events it has queued, within our deadline (returns at once when the queue is empty). */
async function udevSettle(deadline: number, log: Logger): Promise<void> {
  const udevadm = UDEVADM.find((p) => existsSync(p));
  const left = Math.floor((deadline - Date.now()) / 1000);
  if (!udevadm || left < 1) {
    await sleep(250);
    return;
  }
  const t0 = performance.now();
  const r = await runProgram(udevadm, ['settle', `--timeout=${left}`], { reject: false, timeout: (left + 2) * 1000 });
  log.debug({ exitCode: r.exitCode, ms: Math.round(performance.now() - t0) }, 'udevadm settle');
}

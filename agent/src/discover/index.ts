import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { hasContextLayout } from '../../../lib/context/index.js';
import { type ContextFiles, DEFAULT_VOLUME_LABEL } from '../../../lib/context/model.js';
import { readVolumeId } from '../../../lib/iso9660/index.js';
import { RUN_DIR, inRoot } from '../state/paths.js';
import { type ReadMethod, readWithMount, readWithReader } from './read.js';
import { DEFAULT_LIMITS, type ReadLimits, publishContext } from './tree.js';

export { chooseFallbackNic, naturalCompare, type FallbackChoice } from './fallback.js';
export { publishContext, DEFAULT_LIMITS, ContextTooLargeError, type ReadLimits } from './tree.js';
export { readWithReader as readContextIso } from './read.js';

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
  /** "/" on a live system; a fake root in tests (its /sys/block and /dev are used). */
  root: string;
  /** Fixed device paths (in the root) probed first, in order. Default CLASSIC_DEVICES. */
  devices?: readonly string[];
  /** Expected ISO volume label (case-insensitive). Default CONTEXT. */
  label?: string;
  /** Also accept label CDROM when the layout checks out. Default true. */
  acceptLegacyLabel?: boolean;
  /** How long to wait for a late device. Default 10 s. */
  timeoutMs?: number;
  /** Run dir (in the root) for mount points and the copied context. Default /run/contextualization. */
  runDir?: string;
  pollMs?: number;
  limits?: ReadLimits;
  /** auto: mount when root is / and we are root, else (or on mount failure) the in-process reader. */
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
  /** Host path of the published copy (e.g. /run/contextualization/context). */
  contextDir: string;
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
  hostPath: string;
  label: string;
  legacy: boolean;
}

export async function discoverContext(opts: DiscoverOptions): Promise<DiscoveryResult> {
  const t0 = performance.now();
  const log = opts.logger.child({ step: 'discover' });
  const label = (opts.label ?? DEFAULT_VOLUME_LABEL).trim();
  const acceptLegacy = opts.acceptLegacyLabel ?? true;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pollMs = opts.pollMs ?? 250;
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const runDir = inRoot(opts.root, opts.runDir ?? RUN_DIR);
  const deadline = Date.now() + timeoutMs;
  const canMount = (opts.mount ?? 'auto') === 'auto' && opts.root === '/' && process.getuid?.() === 0;

  const rejected = new Map<string, string>();
  // Devices already read and found wanting, keyed by identity: not re-read on every poll.
  const badContent = new Map<string, string>();
  let mountBroken: string | undefined;
  let settled = opts.root !== '/'; // never run the host's udevadm for a fake root
  let scans = 0;

  for (;;) {
    scans++;
    const candidates = probeAll(opts.root, opts.devices ?? CLASSIC_DEVICES, label, acceptLegacy, rejected);
    for (const c of candidates) {
      const key = identity(c.hostPath);
      const known = badContent.get(key);
      if (known) {
        rejected.set(c.device, known);
        continue;
      }
      let files: ContextFiles;
      let method: ReadMethod = 'reader';
      try {
        const viaMount = canMount && !mountBroken ? await readWithMount(c.hostPath, runDir, limits, log) : undefined;
        if (viaMount?.ok) {
          files = viaMount.files;
          method = 'mount';
        } else {
          if (viaMount && !viaMount.ok) {
            mountBroken = viaMount.why;
            log.info({ device: c.device, why: viaMount.why }, 'cannot mount the context CD; using the built-in ISO reader');
          }
          files = readWithReader(c.hostPath, limits);
        }
      } catch (err) {
        const reason = `label ${c.label} but unreadable: ${(err as Error).message}`;
        badContent.set(key, reason);
        rejected.set(c.device, reason);
        continue;
      }
      if (!hasContextLayout(files)) {
        const reason = `label ${c.label} but no context layout (none of common/network, common/context.ini, post-install)`;
        badContent.set(key, reason);
        rejected.set(c.device, reason);
        continue;
      }
      const contextDir = join(runDir, 'context');
      publishContext(files, contextDir, log);
      rejected.delete(c.device);
      const durationMs = Math.round(performance.now() - t0);
      log.info(
        { device: c.device, label: c.label, method, durationMs, files: files.size, scans, legacyLabel: c.legacy },
        `context found on ${c.device}${c.legacy ? ' (generic CDROM label accepted: layout checked)' : ''}`,
      );
      return {
        found: true,
        device: c.device,
        label: c.label,
        legacyLabel: c.legacy,
        method,
        durationMs,
        files,
        contextDir,
        rejected: toList(rejected),
      };
    }

    if (!settled) {
      settled = true;
      await udevSettle(deadline, log);
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(pollMs, left));
  }

  const durationMs = Math.round(performance.now() - t0);
  const list = toList(rejected);
  const reason =
    list.length === 0
      ? `no context CD: no candidate device after ${timeoutMs} ms`
      : `no context CD after ${timeoutMs} ms: ${list.map((r) => `${r.device}: ${r.reason}`).join('; ')}`;
  log.info({ durationMs, scans, rejected: list }, reason);
  return { found: false, durationMs, reason, rejected: list };
}

function toList(m: Map<string, string>): Rejection[] {
  return [...m].map(([device, reason]) => ({ device, reason }));
}

/** Stable identity of a device or file, so the same medium is not re-read every poll. */
function identity(hostPath: string): string {
  try {
    const st = statSync(hostPath);
    return `${realpathSync(hostPath)}:${st.dev}:${st.ino}:${st.rdev}:${st.size}:${st.mtimeMs}`;
  } catch {
    return hostPath;
  }
}

/** Device paths (in the root) to probe: the fixed list first, then /sys/block, each once. */
export function candidateDevices(root: string, fixed: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (dev: string): void => {
    const host = inRoot(root, dev);
    let key = host;
    try {
      key = realpathSync(host); // /dev/cdrom and /dev/sr0 are one device
    } catch {
      // absent for now: keep the name, it may appear later
    }
    if (seen.has(key)) return;
    seen.add(key);
    out.push(dev);
  };
  for (const d of fixed) add(d);
  let names: string[] = [];
  try {
    names = readdirSync(inRoot(root, '/sys/block'));
  } catch {
    // no sysfs (chroot, odd container): the fixed list is all we have
  }
  for (const name of names.filter((n) => SCANNED_PREFIXES.test(n)).sort()) add(`/dev/${name}`);
  return out;
}

/** Probe every candidate's volume label; return the acceptable ones, configured label first. */
function probeAll(root: string, fixed: readonly string[], label: string, acceptLegacy: boolean, rejected: Map<string, string>): Candidate[] {
  const wanted = label.toUpperCase();
  const good: Candidate[] = [];
  const legacy: Candidate[] = [];
  for (const device of candidateDevices(root, fixed)) {
    const hostPath = inRoot(root, device);
    if (!existsSync(hostPath)) continue; // not a rejection: most of the classic names never exist
    if (hasNoMedium(root, device)) {
      rejected.set(device, 'no medium');
      continue;
    }
    let volumeId: string | undefined;
    try {
      volumeId = readVolumeId(hostPath);
    } catch (err) {
      rejected.set(device, `cannot read: ${(err as Error).message}`);
      continue;
    }
    if (volumeId === undefined) {
      rejected.set(device, 'no ISO 9660 volume');
      continue;
    }
    const got = volumeId.trim();
    if (got.toUpperCase() === wanted) {
      good.push({ device, hostPath, label: got, legacy: false });
    } else if (acceptLegacy && got.toUpperCase() === LEGACY_LABEL) {
      legacy.push({ device, hostPath, label: got, legacy: true });
    } else {
      const also = acceptLegacy ? ` or ${LEGACY_LABEL}` : '';
      rejected.set(device, `ISO 9660 label ${JSON.stringify(got)} is not ${label}${also}`);
    }
  }
  return [...good, ...legacy];
}

/** An empty CD tray shows as a block device of size 0; reading it would only give ENOMEDIUM. */
function hasNoMedium(root: string, device: string): boolean {
  const name = device.split('/').pop() ?? '';
  try {
    return readFileSync(inRoot(root, `/sys/block/${name}/size`), 'utf8').trim() === '0';
  } catch {
    return false;
  }
}

const UDEVADM = ['/usr/bin/udevadm', '/bin/udevadm', '/usr/sbin/udevadm', '/sbin/udevadm'];

/** Let udev finish creating device nodes for what the kernel already knows, within our deadline. */
async function udevSettle(deadline: number, log: Logger): Promise<void> {
  const udevadm = UDEVADM.find((p) => existsSync(p));
  const left = Math.floor((deadline - Date.now()) / 1000);
  if (!udevadm || left < 1) return;
  const t0 = performance.now();
  const r = await execa(udevadm, ['settle', `--timeout=${left}`], { reject: false, timeout: (left + 2) * 1000, stdin: 'ignore' });
  log.debug({ exitCode: r.exitCode, ms: Math.round(performance.now() - t0) }, 'udevadm settle');
}

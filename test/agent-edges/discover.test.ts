import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { symlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { writeIso } from '../../lib/iso9660/index.js';
import { candidateDevices, discoverContext, publishContext, type DiscoverOptions } from '../../agent/src/discover/index.js';
import { RootFs } from '../../lib/fs/index.js';
import { captureLogger, cleanupTempDirs, tempDir } from './helpers.js';

// Discovery over fake roots: <root>/sys/block/<name> directories and <root>/dev/<name> "devices" that are
// regular ISO files (the in-process reader reads files and block devices alike). With a root other than
// "/" the agent never mounts, so these tests exercise the reader path. The mount path (mount -t iso9660
// ro,nosuid,nodev,noexec, copy, umount) cannot run here: this host's kernel has no iso9660 driver. It is
// exercised by the VM suite, where the agent boots with a real CD.

afterAll(cleanupTempDirs);

const SNOOZE_NETWORK = 'GATEWAY=10.0.0.1\nNETWORK=10.0.0.0\nNETMASK=255.255.255.0\nBROADCAST=10.0.0.255\nNAMESERVER=10.0.0.2\n';

function contextIso(label: string, extra: Record<string, string> = {}): Buffer {
  const files = { 'common/network': SNOOZE_NETWORK, 'post-install': 'echo hi\n', ...extra };
  return writeIso(
    Object.entries(files).map(([path, text]) => ({ path, data: Buffer.from(text) })),
    { volumeId: label },
  );
}

/** What Snooze's generate_iso_context.sh made: `genisoimage -RJ -o context.iso context/` (label CDROM). */
function genisoimageIso(tree: Record<string, string>): Buffer {
  const src = tempDir('snooze-src-');
  for (const [p, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(src, p)), { recursive: true });
    writeFileSync(join(src, p), text);
  }
  const out = join(tempDir('snooze-iso-'), 'context.iso');
  execFileSync('genisoimage', ['-quiet', '-RJ', '-o', out, src]);
  return readFileSync(out);
}

function fakeRoot(devices: Record<string, Buffer | 'no-medium'>, opts: { sys?: boolean } = {}): string {
  const root = tempDir('fake-root-');
  mkdirSync(join(root, 'dev'), { recursive: true });
  mkdirSync(join(root, 'sys/block'), { recursive: true });
  for (const [name, content] of Object.entries(devices)) addDevice(root, name, content, opts.sys ?? true);
  return root;
}

function addDevice(root: string, name: string, content: Buffer | 'no-medium', sys = true): void {
  if (sys) {
    mkdirSync(join(root, 'sys/block', name), { recursive: true });
    if (content === 'no-medium') writeFileSync(join(root, 'sys/block', name, 'size'), '0\n');
  }
  if (content === 'no-medium') {
    writeFileSync(join(root, 'dev', name), '');
    return;
  }
  // Appear atomically, as a device node would: never half-written.
  const tmp = join(root, 'dev', `.${name}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, join(root, 'dev', name));
}

function options(root: string, extra: Partial<DiscoverOptions> = {}) {
  const cap = captureLogger();
  return { opts: { fs: new RootFs(root), timeoutMs: 300, pollMs: 50, logger: cap.logger, ...extra } satisfies DiscoverOptions, cap };
}

/** udev has events queued (systemd-udevd keeps /run/udev/queue meanwhile): the only time discovery waits. */
function udevBusy(root: string): () => void {
  mkdirSync(join(root, 'run/udev'), { recursive: true });
  writeFileSync(join(root, 'run/udev/queue'), '');
  return () => rmSync(join(root, 'run/udev/queue'), { force: true });
}

describe('context discovery', () => {
  it('finds a CONTEXT-labelled CD on a scanned device; publishing makes a private copy', async () => {
    const root = fakeRoot({ vda: Buffer.alloc(64 * 1024), sr0: contextIso('CONTEXT') });
    const { opts } = options(root);
    const r = await discoverContext(opts);
    expect(r.found).toBe(true);
    if (!r.found) return;
    expect(r).toMatchObject({ device: '/dev/sr0', label: 'CONTEXT', legacyLabel: false, method: 'reader' });
    expect(r.files.get('common/network')?.toString()).toBe(SNOOZE_NETWORK);
    expect(r.rejected).toEqual([{ device: '/dev/vda', reason: 'no ISO 9660 volume' }]);
    expect(r.durationMs).toBeLessThan(300);

    publishContext(new RootFs(root), r.files);
    const ctxDir = join(root, 'run/contextualization/context');
    expect(readFileSync(join(ctxDir, 'common/network'), 'utf8')).toBe(SNOOZE_NETWORK);
    expect(statSync(ctxDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(ctxDir, 'common')).mode & 0o777).toBe(0o700);
    expect(statSync(join(ctxDir, 'common/network')).mode & 0o777).toBe(0o600);
    expect(statSync(join(ctxDir, 'post-install')).mode & 0o777).toBe(0o600);
    // Nothing left over from the atomic publish.
    expect(readdirSync(join(root, 'run/contextualization'))).toEqual(['context']);
  });

  it('finds a CD on a classic device name that is not in /sys/block (Xen xvdb)', async () => {
    const root = fakeRoot({ xvdb: contextIso('CONTEXT') }, { sys: false });
    const r = await discoverContext(options(root).opts);
    expect(r.found && r.device).toBe('/dev/xvdb');
  });

  it('accepts a legacy Snooze ISO (genisoimage default label CDROM) when the layout checks out', async () => {
    const iso = genisoimageIso({ 'common/network': SNOOZE_NETWORK, 'common/routes': 'up route del default\n', 'post-install': 'echo hi\n' });
    const root = fakeRoot({ hdb: iso }, { sys: false });
    const { opts, cap } = options(root);
    const r = await discoverContext(opts);
    expect(r.found).toBe(true);
    if (!r.found) return;
    expect(r).toMatchObject({ device: '/dev/hdb', label: 'CDROM', legacyLabel: true });
    expect(r.files.get('common/routes')?.toString()).toBe('up route del default\n');
    expect(cap.messages().some((m) => m.includes('generic CDROM label accepted'))).toBe(true);
  });

  it('rejects a CDROM-labelled CD without a context layout', async () => {
    const iso = genisoimageIso({ 'README.TXT': 'a driver disk\n', 'drivers/x.ko': 'not a context\n' });
    const root = fakeRoot({ sr0: iso });
    const r = await discoverContext(options(root).opts);
    expect(r.found).toBe(false);
    expect(r.rejected).toEqual([
      { device: '/dev/sr0', reason: 'label CDROM but no context layout (none of common/network, common/context.ini, post-install)' },
    ]);
  });

  it('rejects CDROM when legacy labels are not accepted, even with a layout', async () => {
    const iso = genisoimageIso({ 'common/network': SNOOZE_NETWORK });
    const root = fakeRoot({ sr0: iso });
    const r = await discoverContext(options(root, { acceptLegacyLabel: false }).opts);
    expect(r.found).toBe(false);
    expect(r.rejected).toEqual([{ device: '/dev/sr0', reason: 'ISO 9660 label "CDROM" is not CONTEXT' }]);
  });

  it('rejects a wrong label even when the layout is there (an install ISO is never a context)', async () => {
    const root = fakeRoot({ sr0: contextIso('DEBIAN_12') });
    const r = await discoverContext(options(root).opts);
    expect(r.found).toBe(false);
    if (r.found) return;
    expect(r.rejected).toEqual([{ device: '/dev/sr0', reason: 'ISO 9660 label "DEBIAN_12" is not CONTEXT or CDROM' }]);
    expect(r.reason).toContain('/dev/sr0: ISO 9660 label "DEBIAN_12" is not CONTEXT or CDROM');
  });

  it('honours a configured label', async () => {
    const root = fakeRoot({ sr0: contextIso('SNOOZECTX'), sr1: contextIso('CONTEXT') });
    const r = await discoverContext(options(root, { label: 'snoozectx' }).opts);
    expect(r.found && [r.device, r.label]).toEqual(['/dev/sr0', 'SNOOZECTX']);
  });

  it('prefers the configured label over the legacy one, whatever the device order', async () => {
    const legacy = genisoimageIso({ 'common/network': 'GATEWAY=10.9.9.9\n' });
    const root = fakeRoot({ sr0: legacy, sr1: contextIso('CONTEXT') });
    const r = await discoverContext(options(root).opts);
    expect(r.found && r.device).toBe('/dev/sr1');
  });

  it('ignores loop, ram, zram and dm devices', async () => {
    const root = fakeRoot({ loop0: contextIso('CONTEXT'), ram0: contextIso('CONTEXT'), zram0: contextIso('CONTEXT'), 'dm-0': contextIso('CONTEXT') });
    expect(candidateDevices(new RootFs(root), [])).toEqual([]);
    const r = await discoverContext(options(root, { devices: [] }).opts);
    expect(r.found).toBe(false);
    if (!r.found) expect(r.reason).toBe('no context CD: no candidate device');
  });

  it('lists the fixed devices first, then scanned ones, each once (symlinks resolved)', () => {
    const root = fakeRoot({ sr0: contextIso('CONTEXT'), vda: Buffer.alloc(0), sdb: Buffer.alloc(0) });
    execFileSync('ln', ['-s', 'sr0', join(root, 'dev/cdrom')]);
    expect(candidateDevices(new RootFs(root), ['/dev/cdrom', '/dev/hdb', '/dev/sdb'])).toEqual(['/dev/cdrom', '/dev/hdb', '/dev/sdb', '/dev/vda']);
  });

  it('reports an empty CD tray as "no medium"', async () => {
    const root = fakeRoot({ sr0: 'no-medium' });
    const r = await discoverContext(options(root).opts);
    expect(r.rejected).toEqual([{ device: '/dev/sr0', reason: 'no medium' }]);
  });

  it('waits for a device that appears late (after 1 s) while udev has events queued, within the deadline', async () => {
    const root = fakeRoot({});
    const { opts } = options(root, { timeoutMs: 5000, pollMs: 250 });
    const idle = udevBusy(root);
    const late = setTimeout(() => { addDevice(root, 'sr0', contextIso('CONTEXT')); idle(); }, 1000);
    const t0 = Date.now();
    const r = await discoverContext(opts);
    clearTimeout(late);
    expect(r.found && r.device).toBe('/dev/sr0');
    expect(r.durationMs).toBeGreaterThanOrEqual(950);
    expect(Date.now() - t0).toBeLessThan(2500); // found on the next poll, not at the deadline
  });

  it('gives up at the deadline when udev stays busy and nothing shows up', async () => {
    const root = fakeRoot({});
    udevBusy(root);
    const t0 = Date.now();
    const r = await discoverContext(options(root, { timeoutMs: 700, pollMs: 100 }).opts);
    expect(r.found).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(690);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('decides at once when there is no CD drive, or only an empty tray, and udev is idle (no wait)', async () => {
    for (const root of [fakeRoot({}), fakeRoot({ sr0: 'no-medium' }), fakeRoot({ vda: Buffer.alloc(64 * 1024) })]) {
      const t0 = Date.now();
      const r = await discoverContext(options(root, { timeoutMs: 10_000, pollMs: 100 }).opts);
      expect(r.found).toBe(false);
      expect(Date.now() - t0).toBeLessThan(500);
    }
  });

  it('never opens a FIFO, a character device or a directory at a probed name (lstat first)', async () => {
    const root = fakeRoot({});
    execFileSync('mkfifo', [join(root, 'dev/sr0')]);
    mkdirSync(join(root, 'sys/block/sr0'), { recursive: true });
    execFileSync('mknod', [join(root, 'dev/vdb'), 'c', '1', '5']); // /dev/zero's numbers: reading it never ends
    mkdirSync(join(root, 'dev/hdb'));
    const t0 = Date.now();
    const r = await discoverContext(options(root, { timeoutMs: 2000 }).opts);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r.found).toBe(false);
    const reasons = Object.fromEntries(r.rejected.map((x) => [x.device, x.reason]));
    expect(reasons['/dev/sr0']).toMatch(/a FIFO, not a block device; not probed/);
    expect(reasons['/dev/vdb']).toMatch(/a character device, not a block device; not probed/);
    expect(reasons['/dev/hdb']).toMatch(/a directory, not a block device; not probed/);
  });

  it('follows /dev links only inside the root (a link to the host\'s device is resolved in the image)', async () => {
    const root = fakeRoot({});
    const outside = join(tempDir('outside-'), 'context.iso');
    writeFileSync(outside, contextIso('CONTEXT'));
    symlinkSync(outside, join(root, 'dev/sr0')); // absolute: means <root><outside> inside the image, which does not exist
    const r = await discoverContext(options(root).opts);
    expect(r.found).toBe(false);
  });

  it('refuses a context over the size limits', async () => {
    const big = contextIso('CONTEXT', { 'blob.bin': 'x'.repeat(200_000) });
    const root = fakeRoot({ sr0: big });
    const r = await discoverContext(options(root, { limits: { maxFiles: 100, maxBytes: 100_000, maxDepth: 8 } }).opts);
    expect(r.found).toBe(false);
    expect(r.rejected[0]?.device).toBe('/dev/sr0');
    expect(r.rejected[0]?.reason).toMatch(/^label CONTEXT but unreadable: .*100000/);
  });

  // Live-system mode (root "/", running as root), on real block devices (read-only loop devices over
  // the ISOs) because a live root probes block devices only. The built-in reader reads first; mount(8)
  // is only the fallback for a medium it cannot parse. This host's kernel has no iso9660 driver, so the
  // fallback fails here; where it works (the VM suite's kernels) the same call reads through it.
  const attach = (iso: string): { dev?: string; why?: string } => {
    if (process.getuid?.() !== 0) return { why: 'needs root' };
    try {
      return { dev: execFileSync('losetup', ['--find', '--show', '--read-only', iso], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() };
    } catch {
      return { why: 'losetup cannot attach a loop device here' };
    }
  };
  const loop = (() => {
    const iso = join(tempDir('live-'), 'context.iso');
    writeFileSync(iso, contextIso('CONTEXT'));
    return attach(iso);
  })();
  // A context CD made with genisoimage -z from mkzftree'd files: the reader refuses zisofs.
  const zisofs = (() => {
    const dir = tempDir('live-z-');
    mkdirSync(join(dir, 'raw/common'), { recursive: true });
    writeFileSync(join(dir, 'raw/common/network'), SNOOZE_NETWORK + '#'.repeat(70_000) + '\n');
    execFileSync('mkzftree', [join(dir, 'raw'), join(dir, 'packed')]);
    execFileSync('genisoimage', ['-quiet', '-R', '-J', '-z', '-V', 'CONTEXT', '-o', join(dir, 'z.iso'), join(dir, 'packed')]);
    return attach(join(dir, 'z.iso'));
  })();
  afterAll(() => {
    for (const l of [loop, zisofs]) if (l.dev) execFileSync('losetup', ['--detach', l.dev]);
  });
  it.skipIf(!loop.dev)(`on a live system reads with the built-in reader and never runs mount(8)${loop.why ? ` (skipped: ${loop.why})` : ''}`, async () => {
    const { opts, cap } = options('/', { devices: [loop.dev!] });
    const r = await discoverContext(opts);
    expect(r.found).toBe(true);
    if (!r.found) return;
    expect(r.device).toBe(loop.dev);
    expect(r.method).toBe('reader');
    expect(cap.records.filter((x) => /mount/.test(String(x.msg)))).toEqual([]);
    expect(r.files.get('common/network')?.toString()).toBe(SNOOZE_NETWORK);
  });

  it.skipIf(!zisofs.dev)(`on a live system a medium the reader refuses (zisofs) is tried through mount(8)${zisofs.why ? ` (skipped: ${zisofs.why})` : ''}`, async () => {
    const { opts, cap } = options('/', { devices: [zisofs.dev!] });
    const r = await discoverContext(opts);
    if (r.found) {
      // A kernel with iso9660 and zisofs support decompressed it.
      expect(r.method).toBe('mount');
      expect(r.files.get('common/network')?.toString()).toMatch(/^GATEWAY=/);
    } else {
      // (A live root also probes the host's other disks by label; only the loop device matters here.)
      expect(r.rejected.find((x) => x.device === zisofs.dev)?.reason).toMatch(/^label CONTEXT but unreadable: .*"\/?common\/network": zisofs-compressed/);
      const note = cap.records.find((x) => x.msg === 'the built-in ISO reader could not use the context CD, and mounting it failed');
      expect(String(note?.mount)).toMatch(/iso9660|mount/);
    }
    expect(readdirSync('/run/contextualization/mnt')).toEqual([]); // the private mount dir is removed either way
  });

  it('a live root probes block devices only: an ISO file named as a device is not read', async () => {
    const iso = join(tempDir('live-file-'), 'context.iso');
    writeFileSync(iso, contextIso('CONTEXT'));
    const r = await discoverContext(options('/', { devices: [iso], mount: 'never' }).opts);
    expect(r.found).toBe(false);
    expect(r.rejected.find((x) => x.device === iso)).toEqual({ device: iso, reason: `${iso}: a regular file, not a block device; not probed` });
  });

  it('discovery alone writes nothing (publishing is the local stage\'s decision)', async () => {
    const root = fakeRoot({ sr0: contextIso('CONTEXT') });
    const r = await discoverContext(options(root).opts);
    expect(r.found).toBe(true);
    expect(existsSync(join(root, 'run'))).toBe(false);
  });

  it('replaces a previously published context whole (no stale files survive)', async () => {
    const root = fakeRoot({ sr0: contextIso('CONTEXT', { 'common/old-only': 'stale\n' }) });
    const fs = new RootFs(root);
    const first = await discoverContext(options(root).opts);
    publishContext(fs, first.found ? first.files : new Map());
    const ctxDir = join(root, 'run/contextualization/context');
    expect(existsSync(join(ctxDir, 'common/old-only'))).toBe(true);
    addDevice(root, 'sr0', contextIso('CONTEXT', { 'common/new-only': 'fresh\n' }));
    const r = await discoverContext(options(root).opts);
    expect(r.found).toBe(true);
    publishContext(fs, r.found ? r.files : new Map());
    expect(existsSync(join(ctxDir, 'common/old-only'))).toBe(false);
    expect(readFileSync(join(ctxDir, 'common/new-only'), 'utf8')).toBe('fresh\n');
    expect(readdirSync(join(root, 'run/contextualization'))).toEqual(['context']);
  });
});

/**
 * gatherGrowRootFacts + planGrowRoot over fixture trees of /proc/self/mountinfo and /sys/class/block
 * (laid out as the kernel does: a partition is a directory inside its disk's, /sys/class/block/<part>
 * links to it). The real thing on loop devices is in grow-root-loop.test.ts.
 */
import { RootFs } from '../../lib/fs/index.js';
import { afterAll, describe, expect, it } from 'vitest';
import { planGrowRoot } from '../../agent/src/steps/grow-root.js';
import { gatherGrowRootFacts, rootView } from '../../agent/src/system/identity-facts.js';
import { cleanup, link, put, tmp } from './fixtures.js';
import { info, noteTexts, warn } from '../../agent/src/types/plan.js';

afterAll(cleanup);

const GIB = 2 * 1024 * 1024; // sectors

interface Part { name: string; number: number; start: number; size: number; devno: string }

function disk(root: string, name: string, size: number, devno: string, parts: Part[] = [], extra: Record<string, string> = {}): void {
  put(root, `/sys/class/block/${name}/size`, `${size}\n`);
  put(root, `/sys/class/block/${name}/dev`, `${devno}\n`);
  for (const [k, v] of Object.entries(extra)) put(root, `/sys/class/block/${name}/${k}`, v);
  for (const p of parts) {
    const d = `/sys/class/block/${name}/${p.name}`;
    put(root, `${d}/partition`, `${p.number}\n`);
    put(root, `${d}/start`, `${p.start}\n`);
    put(root, `${d}/size`, `${p.size}\n`);
    put(root, `${d}/dev`, `${p.devno}\n`);
    link(root, `/sys/class/block/${p.name}`, `${name}/${p.name}`);
  }
}

function mounted(root: string, devno: string, fstype: string, source: string, at = '/'): void {
  put(root, '/proc/self/mountinfo', `22 1 ${devno} / ${at} rw,relatime shared:1 - ${fstype} ${source} rw\n23 22 0:5 / /proc rw - proc proc rw\n`);
}

function tools(root: string, which = ['growpart', 'resize2fs', 'xfs_growfs', 'btrfs']): void {
  const at: Record<string, string> = { growpart: '/usr/bin/growpart', resize2fs: '/usr/sbin/resize2fs', xfs_growfs: '/usr/sbin/xfs_growfs', btrfs: '/usr/bin/btrfs' };
  for (const t of which) put(root, at[t]!, '#!/bin/sh\n', 0o755);
}

/** A Debian cloud-style disk: vda with an ext4 root vda1 from sector 2048, grown from 2 GiB to `size`. */
function debianVda(size = 3 * GIB, fstype = 'ext4'): string {
  const r = tmp('grow-');
  disk(r, 'vda', size, '254:0', [{ name: 'vda1', number: 1, start: 2048, size: 2 * GIB - 2048 - 34, devno: '254:1' }]);
  mounted(r, '254:1', fstype, '/dev/vda1');
  tools(r);
  return r;
}

const plan = (r: string, optOuts = {}) => planGrowRoot(gatherGrowRootFacts(rootView(new RootFs(r))), optOuts);
const argvs = (r: string) => plan(r).commands.map((c) => c.argv.join(' '));

describe('planGrowRoot', () => {
  it('a bigger disk: growpart then resize2fs, live only, not required', () => {
    const r = debianVda();
    const p = plan(r);
    expect(p.commands).toEqual([
      { argv: ['/usr/bin/growpart', '/dev/vda', '1'], reason: 'grow partition vda1 by 1024 MiB to the end of vda', when: 'live', required: false, timeoutMs: 120_000 },
      { argv: ['/usr/sbin/resize2fs', '/dev/vda1'], reason: 'grow the ext4 filesystem on / to its device (a no-op when it already fills it)', when: 'live', required: false, timeoutMs: 600_000 },
    ]);
    expect(noteTexts(p.notes)).toEqual([]);
    expect(p.files).toEqual([]);
  });

  it('the facts it read', () => {
    const f = gatherGrowRootFacts(rootView(new RootFs(debianVda())));
    expect(f.device).toEqual({ name: 'vda1', size: 2 * GIB - 2082, partition: { number: 1, start: 2048 }, md: false });
    expect(f.disk).toEqual({ name: 'vda', size: 3 * GIB, md: false });
    expect(f.siblings).toEqual([]);
    expect(f.mount).toEqual({ devno: '254:1', mountPoint: '/', fstype: 'ext4', source: '/dev/vda1' });
  });

  it('a disk the partition already fills: only the (no-op) filesystem grow, with a line', () => {
    const r = debianVda(2 * GIB);
    expect(argvs(r)).toEqual(['/usr/sbin/resize2fs /dev/vda1']);
    expect(noteTexts(plan(r).notes)).toEqual(['grow root: vda1 already fills vda']);
  });

  it('xfs: xfs_growfs on the mount point; btrfs: btrfs filesystem resize max', () => {
    expect(argvs(debianVda(3 * GIB, 'xfs'))).toEqual(['/usr/bin/growpart /dev/vda 1', '/usr/sbin/xfs_growfs /']);
    // btrfs reports an anonymous st_dev (0:N): the device comes from the mount source.
    const r = tmp('grow-btrfs-');
    disk(r, 'vda', 3 * GIB, '254:0', [{ name: 'vda1', number: 1, start: 2048, size: GIB, devno: '254:1' }]);
    mounted(r, '0:31', 'btrfs', '/dev/vda1');
    tools(r);
    expect(argvs(r)).toEqual(['/usr/bin/growpart /dev/vda 1', '/usr/bin/btrfs filesystem resize max /']);
  });

  it('no growpart: the partition is left with a line; a missing filesystem tool skips the whole step', () => {
    const r = tmp('grow-notools-');
    disk(r, 'vda', 3 * GIB, '254:0', [{ name: 'vda1', number: 1, start: 2048, size: GIB, devno: '254:1' }]);
    mounted(r, '254:1', 'ext4', '/dev/vda1');
    tools(r, ['resize2fs']);
    const p = plan(r);
    expect(p.commands.map((c) => c.argv[0])).toEqual(['/usr/sbin/resize2fs']);
    expect(noteTexts(p.notes)).toEqual(['grow root: vda1 could grow by 2047 MiB but growpart (cloud-guest-utils) is not installed: the partition is left as it is']);
    mounted(r, '254:1', 'xfs', '/dev/vda1');
    expect(plan(r)).toEqual({ files: [], remove: [], commands: [], notes: [warn('grow root: xfs on /: xfs_growfs (xfsprogs) is not installed: not grown', '/')] });
  });

  it('a root on the whole disk (no partition table): the filesystem only', () => {
    const r = tmp('grow-whole-');
    disk(r, 'vdb', 3 * GIB, '254:16');
    mounted(r, '254:16', 'ext4', '/dev/vdb');
    tools(r);
    expect(argvs(r)).toEqual(['/usr/sbin/resize2fs /dev/vdb']);
  });

  it('/dev/root in mountinfo (no initramfs) is found by its device number; NVMe names work', () => {
    const r = tmp('grow-nvme-');
    disk(r, 'nvme0n1', 3 * GIB, '259:0', [
      { name: 'nvme0n1p1', number: 1, start: 2048, size: 1048576, devno: '259:1' },
      { name: 'nvme0n1p2', number: 2, start: 1050624, size: GIB, devno: '259:2' },
    ]);
    mounted(r, '259:2', 'ext4', '/dev/root');
    tools(r);
    expect(argvs(r)).toEqual(['/usr/bin/growpart /dev/nvme0n1 2', '/usr/sbin/resize2fs /dev/nvme0n1p2']);
  });

  it('a partition followed by another one (swap after root): not grown', () => {
    const r = tmp('grow-swap-');
    disk(r, 'vda', 3 * GIB, '254:0', [
      { name: 'vda1', number: 1, start: 2048, size: GIB, devno: '254:1' },
      { name: 'vda2', number: 2, start: 2048 + GIB, size: 1048576, devno: '254:2' },
    ]);
    mounted(r, '254:1', 'ext4', '/dev/vda1');
    tools(r);
    const p = plan(r);
    expect(p.commands.map((c) => c.argv.join(' '))).toEqual(['/usr/sbin/resize2fs /dev/vda1']);
    expect(noteTexts(p.notes)).toEqual(['grow root: vda1 is followed by vda2: the partition is not grown']);
  });

  it('a root partition after the others with room behind it: grown', () => {
    const r = tmp('grow-last-');
    disk(r, 'vda', 3 * GIB, '254:0', [
      { name: 'vda1', number: 1, start: 2048, size: 1048576, devno: '254:1' }, // EFI
      { name: 'vda2', number: 2, start: 1050624, size: GIB, devno: '254:2' },
    ]);
    mounted(r, '254:2', 'ext4', '/dev/vda2');
    tools(r);
    expect(argvs(r)).toEqual(['/usr/bin/growpart /dev/vda 2', '/usr/sbin/resize2fs /dev/vda2']);
  });

  it('a logical partition in an extended one (Debian installer\'s MBR layout): skipped with a line', () => {
    const r = tmp('grow-logical-');
    disk(r, 'sda', 3 * GIB, '8:0', [
      { name: 'sda1', number: 1, start: 2048, size: GIB, devno: '8:1' },
      { name: 'sda2', number: 2, start: 2048 + GIB, size: 2, devno: '8:2' },
      { name: 'sda5', number: 5, start: 4096 + GIB, size: 500000, devno: '8:5' },
    ]);
    mounted(r, '8:5', 'ext4', '/dev/sda5');
    tools(r);
    expect(plan(r)).toEqual({ files: [], remove: [], commands: [], notes: [info('grow root: sda5 is a logical partition inside the extended sda2: not grown', '/')] });
  });

  for (const [what, uuid, name, line] of [
    ['LVM', 'LVM-abcdefABCDEF0123456789', 'dm-0', 'grow root: / is on an LVM logical volume (dm-0): growing needs pvresize and lvextend, not done'],
    ['dm-crypt', 'CRYPT-LUKS2-0123456789abcdef-root', 'dm-0', 'grow root: / is on dm-crypt (dm-0): growing needs the partition, cryptsetup resize and the filesystem, not done'],
    ['multipath', 'mpath-3600508b400105e210000900000490000', 'dm-0', 'grow root: / is on a device-mapper device (dm-0, mpath): not grown'],
  ] as const) {
    it(`${what}: skipped with one line`, () => {
      const r = tmp('grow-dm-');
      disk(r, name, 3 * GIB, '253:0', [], { 'dm/uuid': `${uuid}\n`, 'dm/name': 'vg-root\n' });
      mounted(r, '253:0', 'ext4', '/dev/mapper/vg-root');
      tools(r);
      expect(plan(r)).toEqual({ files: [], remove: [], commands: [], notes: [info(line, '/')] });
    });
  }

  it('md RAID, a root not on a block device, an unsupported filesystem, no mountinfo, the opt-out', () => {
    const md = tmp('grow-md-');
    disk(md, 'md0', 3 * GIB, '9:0', [], { 'md/level': 'raid1\n' });
    mounted(md, '9:0', 'ext4', '/dev/md0');
    tools(md);
    expect(noteTexts(plan(md).notes)).toEqual(['grow root: / is on md RAID (md0): not grown']);

    const overlay = tmp('grow-overlay-');
    mounted(overlay, '0:44', 'overlay', 'overlay');
    expect(noteTexts(plan(overlay).notes)).toEqual(['grow root: / (overlay from overlay) is not on a block device of /sys/class/block']);

    const f2fs = debianVda(3 * GIB, 'f2fs');
    expect(plan(f2fs)).toEqual({ files: [], remove: [], commands: [], notes: [info('grow root: / is f2fs: only ext2/3/4, xfs and btrfs are grown', '/')] });

    expect(noteTexts(plan(tmp('grow-image-')).notes)).toEqual(['grow root: nothing is mounted at / in /proc/self/mountinfo (not the running system?)']);
    expect(plan(debianVda(), { grow_root: 'grow_root = no in common/context.ini' })).toEqual({
      files: [], remove: [], commands: [], notes: [info('grow root: not done (grow_root = no in common/context.ini)', '/')],
    });
  });
});

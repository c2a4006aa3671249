/**
 * planGrowRoot for real: a filesystem on a partition of a loop device, in a file twice its size. The
 * facts come from this machine's own /proc/self/mountinfo and /sys/class/block, the commands are run
 * by applyPlan (live), and the sizes are read back from the kernel and the filesystem.
 *
 * Needs root, losetup, sfdisk, growpart (cloud-guest-utils), mkfs.ext4/e2fsck and mkfs.xfs (xfsprogs).
 * ext4 grows online only with CAP_SYS_RESOURCE (EXT4_IOC_RESIZE_FS); where the sandbox withholds it the
 * same resize2fs command runs on the unmounted filesystem (after the e2fsck resize2fs asks for). XFS
 * grows online here. The boot-time path (the root of a running guest) is the VM suite's.
 */
import { RootFs } from '../../lib/fs/index.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../../agent/src/apply/apply.js';
import { planGrowRoot } from '../../agent/src/steps/grow-root.js';
import { gatherGrowRootFacts, rootView } from '../../agent/src/system/identity-facts.js';
import { cleanup, tmp } from './fixtures.js';
import { noteTexts } from '../../agent/src/types/plan.js';

afterAll(cleanup);

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }).status === 0;
const NEEDED = ['losetup', 'sfdisk', 'growpart', 'partx', 'mkfs.ext4', 'e2fsck', 'dumpe2fs', 'mkfs.xfs', 'xfs_growfs'];
const missing = [...(process.getuid?.() === 0 ? [] : ['root']), ...NEEDED.filter((c) => !has(c))];
if (missing.length && process.env.CI === 'true') throw new Error(`grow-root-loop: ${missing.join(', ')} required in CI (scripts/setup.sh installs them)`);
if (missing.length) console.warn(`grow-root-loop: skipped, missing ${missing.join(', ')}`);

const run = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
const logger = pino({ level: 'silent' });
const sysSize = (name: string) => Number(readFileSync(`/sys/class/block/${name}/size`, 'utf8'));
const CAP_SYS_RESOURCE = 24;
const capSysResource = (BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`) >> BigInt(CAP_SYS_RESOURCE)) & 1n;

/** A file of `fileMiB` with one partition of `partMiB` at 1 MiB, attached to a loop device; always detached. */
async function withLoopDisk(fileMiB: number, partMiB: number, label: 'dos' | 'gpt', body: (dev: string, part: string, mnt: string) => Promise<void>): Promise<void> {
  const dir = tmp('grow-loop-');
  const img = join(dir, 'disk.img');
  run('truncate', ['-s', `${fileMiB}M`, img]);
  run('sfdisk', ['-q', img], `label: ${label}\nstart=2048, size=${partMiB * 2048}\n`);
  const dev = run('losetup', ['-f', '--show', '-P', img]).trim();
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  try {
    const part = `${dev}p1`;
    // Partition scanning on loop devices is asynchronous, or absent here: ask for it, then wait for the node.
    spawnSync('partx', ['-a', dev]);
    for (let i = 0; i < 50 && !existsSync(part); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(part), `${part} did not appear`).toBe(true);
    await body(dev, part, mnt);
  } finally {
    spawnSync('umount', [mnt]);
    spawnSync('losetup', ['-d', dev]);
  }
}

describe.skipIf(missing.length > 0)('grow a filesystem on a loop device for real', () => {
  it('ext4: 64 MiB partition in a 128 MiB disk -> growpart + resize2fs fill the disk', async () => {
    await withLoopDisk(128, 64, 'dos', async (dev, part, mnt) => {
      run('mkfs.ext4', ['-q', part]);
      run('mount', [part, mnt]);
      const name = part.slice('/dev/'.length);
      const facts = gatherGrowRootFacts(rootView(new RootFs('/')), mnt);
      expect(facts.device?.name).toBe(name);
      expect(facts.disk?.name).toBe(dev.slice('/dev/'.length));
      const plan = planGrowRoot(facts);
      expect(plan.commands.map((c) => c.argv)).toEqual([
        [facts.tools.growpart, dev, '1'],
        [facts.tools.resize2fs, part],
      ]);
      expect(plan.commands[0]!.reason).toBe(`grow partition ${name} by 63 MiB to the end of ${dev.slice(5)}`); // 128 - 1 - 64
      if (!capSysResource) {
        run('umount', [mnt]);
        run('e2fsck', ['-f', '-p', part]);
      }
      const result = await applyPlan(plan, { fs: new RootFs(tmp('grow-apply-')), live: true, logger });
      expect(result.commands).toEqual(plan.commands.map((c) => ({ argv: c.argv, ok: true })));

      const partSectors = sysSize(name);
      expect(partSectors).toBeGreaterThan((128 - 1) * 2048 - 64); // to the end of the disk, less MBR alignment slack
      const h = run('dumpe2fs', ['-h', part]);
      const blocks = Number(/Block count:\s+(\d+)/.exec(h)![1]);
      const blockSize = Number(/Block size:\s+(\d+)/.exec(h)![1]);
      expect(blocks * blockSize).toBeGreaterThan(partSectors * 512 - 4 * 1024 * 1024);
      expect(blocks * blockSize).toBeLessThanOrEqual(partSectors * 512);

      // A second plan finds nothing to grow: no growpart (it would fail with NOCHANGE).
      if (!capSysResource) run('mount', [part, mnt]);
      const again = planGrowRoot(gatherGrowRootFacts(rootView(new RootFs('/')), mnt));
      expect(again.commands.map((c) => c.argv[0])).toEqual([facts.tools.resize2fs]);
      expect(noteTexts(again.notes)).toEqual([`grow root: ${name} already fills ${dev.slice(5)}`]);
    });
  });

  it('xfs online: 320 MiB partition in a 640 MiB GPT disk -> growpart + xfs_growfs on the mounted filesystem', async () => {
    await withLoopDisk(640, 320, 'gpt', async (dev, part, mnt) => {
      run('mkfs.xfs', ['-q', part]);
      run('mount', [part, mnt]);
      const before = statfsSync(mnt);
      const plan = planGrowRoot(gatherGrowRootFacts(rootView(new RootFs('/')), mnt));
      expect(plan.commands.map((c) => c.argv.slice(1))).toEqual([[dev, '1'], [mnt]]);
      const result = await applyPlan(plan, { fs: new RootFs(tmp('grow-apply-')), live: true, logger });
      expect(result.commands.every((c) => c.ok)).toBe(true);
      const after = statfsSync(mnt);
      const mib = (s: typeof before) => (s.blocks * s.bsize) / 2 ** 20;
      // statfs leaves out XFS's internal log, so compare the growth: the partition gained 319 MiB.
      expect(mib(before)).toBeLessThan(320);
      expect(mib(after) - mib(before)).toBeGreaterThan(310);
      // GPT keeps 33 sectors at the end for its backup: growpart moved it and stopped before it.
      expect(sysSize(part.slice(5))).toBeLessThanOrEqual(640 * 2048 - 2048 - 33);
    });
  });
});

/**
 * applyPlan called directly over temp roots through RootFs: backups, idempotence, refusals, directory
 * modes, and live commands that wait for nothing (skipped when their service is not running).
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RootFs } from '../../lib/fs/index.js';
import { applyPlan } from '../../agent/src/apply/apply.js';
import type { Plan } from '../../agent/src/types/plan.js';
import { tmp } from '../support/fake-roots.js';

const log = pino({ level: 'silent' });
const plan = (over: Partial<Plan>): Plan => ({ files: [], remove: [], commands: [], notes: [], ...over });

describe('applyPlan', () => {
  it('writes, keeps .orig once and .prev each time, and changes nothing on a rerun', async () => {
    const root = tmp('apply-');
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/hosts'), 'original\n');
    const fs = new RootFs(root);
    const p1 = plan({ files: [{ path: '/etc/hosts', content: 'one\n', mode: 0o644, reason: 't' }] });
    const r1 = await applyPlan(p1, { fs, live: false, logger: log });
    expect(r1.written).toEqual(['/etc/hosts']);
    expect(readFileSync(join(root, 'var/lib/contextualization/backup/etc/hosts.orig'), 'utf8')).toBe('original\n');
    expect((await applyPlan(p1, { fs, live: false, logger: log })).unchanged).toEqual(['/etc/hosts']);
    await applyPlan(plan({ files: [{ path: '/etc/hosts', content: 'two\n', mode: 0o644, reason: 't' }] }), { fs, live: false, logger: log });
    expect(readFileSync(join(root, 'var/lib/contextualization/backup/etc/hosts.orig'), 'utf8')).toBe('original\n');
    expect(readFileSync(join(root, 'var/lib/contextualization/backup/etc/hosts.prev'), 'utf8')).toBe('one\n');
    expect(lstatSync(join(root, 'var/lib/contextualization/backup')).mode & 0o777).toBe(0o700);
  });

  it('creates a missing directory with the planned mode (/root/.ssh 0700)', async () => {
    const root = tmp('apply-');
    await applyPlan(plan({ files: [{ path: '/root/.ssh/authorized_keys', content: 'k\n', mode: 0o600, dirMode: 0o700, reason: 't' }] }), { fs: new RootFs(root), live: false, logger: log });
    expect(lstatSync(join(root, 'root/.ssh')).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(root, 'root/.ssh/authorized_keys')).mode & 0o777).toBe(0o600);
  });

  it('replaces a symlink by a file (recording its target), never writing through it', async () => {
    const root = tmp('apply-');
    const outside = join(tmp('outside-'), 'target');
    writeFileSync(outside, 'outside\n');
    mkdirSync(join(root, 'etc'));
    symlinkSync(outside, join(root, 'etc/hosts'));
    await applyPlan(plan({ files: [{ path: '/etc/hosts', content: 'new\n', mode: 0o644, reason: 't' }] }), { fs: new RootFs(root), live: false, logger: log });
    expect(readFileSync(outside, 'utf8')).toBe('outside\n');
    expect(lstatSync(join(root, 'etc/hosts')).isFile()).toBe(true);
    expect(readFileSync(join(root, 'var/lib/contextualization/backup/etc/hosts.orig.symlink'), 'utf8')).toBe(`${outside}\n`);
  });

  it('refuses a FIFO where a file goes before writing anything at all', async () => {
    const root = tmp('apply-');
    mkdirSync(join(root, 'etc'));
    execFileSync('mkfifo', [join(root, 'etc/hosts')]);
    const p = plan({ files: [
      { path: '/etc/hostname', content: 'h\n', mode: 0o644, reason: 't' },
      { path: '/etc/hosts', content: 'x\n', mode: 0o644, reason: 't' },
    ] });
    await expect(applyPlan(p, { fs: new RootFs(root), live: false, logger: log })).rejects.toThrow(`${root}/etc/hosts: a FIFO where a regular file is expected; refusing to replace it`);
    expect(() => lstatSync(join(root, 'etc/hostname'))).toThrow();
  });

  it('live commands run only on a live system, and only when the unit they need is active', async () => {
    const root = tmp('apply-');
    const marker = join(root, 'ran');
    const p = plan({ commands: [
      { argv: ['touch', `${marker}-1`], reason: 'plain', when: 'live', required: false },
      { argv: ['touch', `${marker}-2`], reason: 'needs networkd', when: 'live', required: false, requiresActive: 'systemd-networkd.service' },
    ] });
    expect((await applyPlan(p, { fs: new RootFs(root), live: false, logger: log })).commands).toEqual([]);
    const asked: string[] = [];
    const r = await applyPlan(p, { fs: new RootFs(root), live: true, logger: log, unitActive: async (u) => { asked.push(u); return false; } });
    expect(asked).toEqual(['systemd-networkd.service']);
    expect(r.commands.map((c) => [c.ok, c.skipped ?? ''])).toEqual([[true, ''], [true, 'systemd-networkd.service is not running yet: it applies the written files when it starts']]);
    expect(() => lstatSync(`${marker}-2`)).toThrow();
    await applyPlan(p, { fs: new RootFs(root), live: true, logger: log, unitActive: async () => true });
    expect(lstatSync(`${marker}-2`).isFile()).toBe(true);
  });

  it('removes a stale owned file that is a symlink as a link, not its target', async () => {
    const root = tmp('apply-');
    const outside = join(tmp('outside-'), 'keep');
    writeFileSync(outside, 'keep\n');
    mkdirSync(join(root, 'etc/systemd/network'), { recursive: true });
    symlinkSync(outside, join(root, 'etc/systemd/network/10-contextualization-eth0.network'));
    const r = await applyPlan(plan({ remove: ['/etc/systemd/network/10-contextualization-eth0.network'] }), { fs: new RootFs(root), live: false, logger: log });
    expect(r.removed).toEqual(['/etc/systemd/network/10-contextualization-eth0.network']);
    expect(readFileSync(outside, 'utf8')).toBe('keep\n');
    expect(() => lstatSync(join(root, 'etc/systemd/network/10-contextualization-eth0.network'))).toThrow();
    expect(readFileSync(join(root, 'var/lib/contextualization/backup/etc/systemd/network/10-contextualization-eth0.network.orig.symlink'), 'utf8')).toBe(`${outside}\n`);
  });
});

describe('RootFs reads sysfs-like files', () => {
  it('a file whose size is reported larger than its content (sysfs says 4096) is read; a real overflow is refused', async () => {
    const { RootFs: Fs } = await import('../../lib/fs/index.js');
    const root = tmp('sysfs-');
    mkdirSync(join(root, 'sys/block/sr0'), { recursive: true });
    writeFileSync(join(root, 'sys/block/sr0/size'), '0\n');
    const fs = new Fs(root);
    expect(fs.readText('/sys/block/sr0/size', { maxBytes: 64 })).toBe('0\n');
    expect(fs.readText('/proc/self/stat', { maxBytes: 8 })).toBeUndefined(); // absent in this root
    const live = new Fs('/');
    if (live.kind('/sys/class/dmi/id/product_name') === 'file') expect(live.readText('/sys/class/dmi/id/product_name', { maxBytes: 256 })).toBeDefined();
    writeFileSync(join(root, 'big'), 'x'.repeat(100));
    expect(() => fs.readFile('/big', { maxBytes: 10 })).toThrow(`${root}/big: more than the 10 bytes expected; not read`);
  });
});

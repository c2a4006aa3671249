import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cg, qemuImgInfo, snapshot, tempDir, waitFor } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('cg-overlay-');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '64M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'base.raw'), '32M']);
});

describe('contextgen overlay (real qemu-img)', () => {
  it('creates a qcow2 overlay with an absolute backing path and the detected backing format', async () => {
    const r = await cg(['overlay', '--backing', 'base.qcow2', '-o', 'vm1.qcow2'], { cwd: dir });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const info = qemuImgInfo(join(dir, 'vm1.qcow2'));
    expect(info.format).toBe('qcow2');
    expect(info['backing-filename']).toBe(join(dir, 'base.qcow2'));
    expect(info['backing-filename-format']).toBe('qcow2');
    expect(info['virtual-size']).toBe(64 * 1024 * 1024);
    // qemu-img check: the overlay is a consistent image.
    execFileSync('qemu-img', ['check', '-q', join(dir, 'vm1.qcow2')]);
  });

  it('detects a raw base and grows the overlay with --size', async () => {
    const r = await cg(['overlay', '--backing', 'base.raw', '-o', 'vm2.qcow2', '--size', '1G'], { cwd: dir });
    expect(r.code).toBe(0);
    const info = qemuImgInfo(join(dir, 'vm2.qcow2'));
    expect(info['backing-filename-format']).toBe('raw');
    expect(info['virtual-size']).toBe(1024 ** 3);
  });

  it('refuses a wrong --backing-format, a shrinking --size and a missing base; writes nothing', async () => {
    const before = snapshot(dir);
    const wrong = await cg(['overlay', '--backing', 'base.qcow2', '--backing-format', 'raw', '-o', 'x.qcow2'], { cwd: dir });
    expect(wrong.code).toBe(1);
    expect(wrong.err[0]).toContain('--backing-format = "raw": backing image is qcow2');
    const small = await cg(['overlay', '--backing', 'base.qcow2', '-o', 'x.qcow2', '--size', '1M'], { cwd: dir });
    expect(small.code).toBe(1);
    expect(small.err[0]).toContain('smaller than the backing image');
    const missing = await cg(['overlay', '--backing', 'nope.qcow2', '-o', 'x.qcow2', '--size', 'lots'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.err).toHaveLength(2); // both the size and the missing base, in one run
    const same = await cg(['overlay', '--backing', 'base.qcow2', '-o', 'base.qcow2', '--force'], { cwd: dir });
    expect(same.code).toBe(1);
    expect(snapshot(dir)).toEqual(before);
  });

  it('never replaces an existing overlay, even with --force; --recreate-disks does, unless a QEMU holds it', async () => {
    const target = join(dir, 'vm3.qcow2');
    expect((await cg(['overlay', '--backing', 'base.qcow2', '-o', target], { cwd: dir })).code).toBe(0);
    // A used disk: guest data written into the overlay.
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 0 64k', target], { stdio: 'ignore' });
    const used = readFileSync(target);
    const r = await cg(['overlay', '--backing', 'base.qcow2', '-o', target], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([`contextgen: ${target}: disk image exists; it is never replaced (use --recreate-disks to discard its data)`]);
    const f = await cg(['overlay', '--backing', 'base.qcow2', '-o', target, '--force'], { cwd: dir });
    expect(f.code).toBe(1);
    expect(f.err).toEqual([`contextgen: ${target}: disk image exists; it is never replaced by --force (use --recreate-disks to discard its data)`]);
    expect(readFileSync(target).equals(used)).toBe(true);
    // A running qemu-io holds the image's write lock, as a running guest's QEMU does.
    const holder = spawn('qemu-io', ['-f', 'qcow2', target], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await waitFor(() => spawnSync('qemu-img', ['info', target]).status !== 0);
      const busy = await cg(['overlay', '--backing', 'base.qcow2', '-o', target, '--recreate-disks'], { cwd: dir });
      expect(busy.code).toBe(1);
      expect(busy.err).toEqual([`contextgen: ${target}: disk image is in use (a QEMU process holds its lock); shut the guest down first`]);
      expect(readFileSync(target).equals(used)).toBe(true);
    } finally {
      holder.kill();
      await new Promise((res) => holder.once('exit', res));
    }
    expect((await cg(['overlay', '--backing', 'base.qcow2', '-o', target, '--recreate-disks'], { cwd: dir })).code).toBe(0);
    expect(readFileSync(target).length).toBeLessThan(used.length);
  });

  it('a base that is no disk image is read as raw (as qemu-img does) and recorded as raw', async () => {
    writeFileSync(join(dir, 'notes.txt'), 'not an image\n');
    const r = await cg(['overlay', '--backing', 'notes.txt', '-o', 'vm4.qcow2'], { cwd: dir });
    // qemu-img reads any file as raw; a text file is a (tiny) raw image, so it is accepted and the overlay is
    // valid. What matters is that the format recorded is the one qemu-img detected.
    expect(r.code).toBe(0);
    expect(qemuImgInfo(join(dir, 'vm4.qcow2'))['backing-filename-format']).toBe('raw');
    expect(existsSync(join(dir, 'vm4.qcow2'))).toBe(true);
  });
});

/**
 * Output paths (issue 10 row 11, issue 12 row 5): --force replaces only regular files and symlinks
 * (as links); device nodes, FIFOs, sockets and directories are refused with one line naming them;
 * a symlinked VM directory is refused; I/O errors name the real output, never a temp file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cg, snapshot, tempDir, TEMPLATE } from './helpers.js';

let dir: string;
let server: Server;
beforeAll(async () => {
  dir = tempDir('cg-out-');
  execFileSync('mkfifo', [join(dir, 'fifo.iso')]);
  // A private copy of /dev/null (same major/minor): the test never risks the host's own if a regression
  // replaced it (an earlier version of contextgen did exactly that with -o /dev/null --force).
  execFileSync('mknod', ['-m', '666', join(dir, 'null'), 'c', '1', '3']);
  mkdirSync(join(dir, 'dir.iso'));
  server = createServer();
  await new Promise<void>((r) => server.listen(join(dir, 'sock.iso'), r));
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '16M']);
  writeFileSync(join(dir, 'disk.qcow2'), '');
  execFileSync('genisoimage', ['-quiet', '-RJ', '-o', join(dir, 'ctx.iso'), TEMPLATE]);
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const isoArgs = (out: string) => ['iso', '-o', out, '--hostname', 'h1', '--force'];
const domArgs = (out: string) => ['domain', '--name', 'd1', '--memory', '512', '--disk', 'disk.qcow2', '--disk-format', 'raw', '--context', 'ctx.iso', '-o', out, '--force'];

describe('--force replaces only regular files', () => {
  it('refuses a /dev/null device node, a FIFO, a socket and a directory with one line naming each; nothing is written beside them', async () => {
    const nul = join(dir, 'null');
    const cases: [string, string][] = [
      [nul, 'a character device'],
      [join(dir, 'fifo.iso'), 'a FIFO'],
      [join(dir, 'sock.iso'), 'a socket'],
      [join(dir, 'dir.iso'), 'a directory'],
    ];
    const before = snapshotTypes(dir);
    for (const [out, kind] of cases) {
      for (const args of [isoArgs(out), domArgs(out)]) {
        const r = await cg(args, { cwd: dir });
        expect(r.code, `${args[0]} ${out}`).toBe(1);
        expect(r.err).toEqual([`contextgen: ${out}: is ${kind}; --force replaces only regular files`]);
      }
    }
    // overlay --recreate-disks on a device is refused the same way.
    const ov = await cg(['overlay', '--backing', 'base.qcow2', '-o', nul, '--recreate-disks'], { cwd: dir });
    expect(ov.err).toEqual([`contextgen: ${nul}: is a character device; --force replaces only regular files`]);
    expect(statSync(nul).isCharacterDevice()).toBe(true);
    expect(snapshotTypes(dir)).toEqual(before); // no temp file was made beside them either
  });

  it('replaces a symlink at the output as a link: the link target is never written', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(dir, 'link.iso'));
    symlinkSync(victim, join(dir, 'link.xml'));
    expect((await cg(['iso', '-o', 'link.iso', '--hostname', 'h1'], { cwd: dir })).err).toEqual([`contextgen: ${join(dir, 'link.iso')}: output exists; use --force to overwrite`]);
    expect((await cg(isoArgs('link.iso'), { cwd: dir })).code).toBe(0);
    expect((await cg(domArgs('link.xml'), { cwd: dir })).code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(dir, 'link.iso')).isFile()).toBe(true);
    expect(lstatSync(join(dir, 'link.xml')).isFile()).toBe(true);
  });

  it('batch: a symlinked VM directory is refused, with or without --force; its target is untouched', async () => {
    const out = join(dir, 'out');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(out);
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'keep'), 'keep\n');
    symlinkSync(elsewhere, join(out, 'vm1'));
    writeFileSync(join(dir, 'inv.ini'), '[defaults]\nbridge = br0\ndisk = disk.qcow2\npool = 10.0.0.0/24\n[vm vm1]\n');
    const before = snapshot(elsewhere);
    for (const extra of [[], ['--force'], ['--contexts-only']]) {
      const r = await cg(['batch', 'inv.ini', '-o', out, ...extra], { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.err).toEqual([`contextgen: inv.ini: [vm vm1] = "vm1": ${join(out, 'vm1')} is a symlink, not a VM directory; refusing to write through or replace it`]);
    }
    expect(snapshot(elsewhere)).toEqual(before);
    expect(readlinkSync(join(out, 'vm1'))).toBe(elsewhere);
  });

  it('batch --force: a FIFO where a VM file goes is refused, naming the VM and the file', async () => {
    const out = join(dir, 'out2');
    writeFileSync(join(dir, 'inv2.ini'), '[defaults]\nbridge = br0\ndisk = disk.qcow2\npool = 10.0.0.0/24\n[vm vm2]\n');
    expect((await cg(['batch', 'inv2.ini', '-o', out], { cwd: dir })).code).toBe(0);
    const iso = join(out, 'vm2', 'context.iso');
    execFileSync('rm', [iso]);
    execFileSync('mkfifo', [iso]);
    const r = await cg(['batch', 'inv2.ini', '-o', out, '--force'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      `contextgen: warning: ${iso}: not a regular file, not read`, // the scan does not open it (a FIFO would block)
      `contextgen: inv2.ini: [vm vm2] = "vm2": ${iso}: is a FIFO; --force replaces only regular files`,
    ]);
    expect(lstatSync(iso).isFIFO()).toBe(true);
  });
});

describe('I/O errors name the output, never a temp file', () => {
  it('ENOSPC on a full file system names the ISO (iso) and the VM and file (batch); no temp file is left', async () => {
    const full = tempDir('cg-full-');
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full], { encoding: 'utf8' });
    expect(m.status, `mount tmpfs (needs root): ${m.stderr}`).toBe(0);
    try {
      try {
        writeFileSync(join(full, 'filler'), Buffer.alloc(128 * 1024, 0x61));
      } catch {
        /* ENOSPC: the file system is full, as wanted */
      }
      const out = join(full, 'x.iso');
      const r = await cg(['iso', '-o', out, '--from', TEMPLATE], { cwd: dir });
      expect(r.code).toBe(3);
      expect(r.err).toEqual([`contextgen: ${out}: cannot write: no space left on device (ENOSPC)`]);
      writeFileSync(join(dir, 'inv3.ini'), '[defaults]\nbridge = br0\ndisk = disk.qcow2\npool = 10.0.0.0/24\n[vm vm3]\n');
      const b = await cg(['batch', 'inv3.ini', '-o', join(full, 'out')], { cwd: dir });
      expect(b.code).toBe(3);
      expect(b.err).toHaveLength(1);
      expect(b.err[0]).toMatch(new RegExp(`^contextgen: VM vm3 \\(\\[vm vm3\\]\\): ${full}/out/vm3/(context\\.iso|domain\\.xml): cannot write: no space left on device \\(ENOSPC\\)$`));
      expect(readdirSync(full)).toEqual(['filler']); // no temp file, and the batch rolled back its directories
    } finally {
      execFileSync('umount', [full]);
    }
  });
});

/** Types and sizes of the entries of `d` (snapshot() cannot read FIFOs and sockets). */
function snapshotTypes(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(d).sort()) {
    const st = lstatSync(join(d, n));
    out[n] = `${st.mode.toString(8)} ${st.isFile() ? st.size : ''}`;
  }
  return out;
}

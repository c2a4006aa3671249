import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContextError, LIMITS, formatProblem, readContextDir } from '../../lib/context/index.js';

let base: string;
let dir: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'ctx-dir-'));
  dir = join(base, 'context');
  mkdirSync(join(dir, 'common'), { recursive: true });
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

async function refusal(): Promise<string[]> {
  try {
    await readContextDir(dir);
  } catch (e) {
    if (e instanceof ContextError) return e.problems.map(formatProblem);
    throw e;
  }
  throw new Error('readContextDir accepted the directory');
}

describe('readContextDir', () => {
  it('reads every file as a relative POSIX path', async () => {
    writeFileSync(join(dir, 'common/network'), 'NAMESERVER=10.0.0.1\n');
    writeFileSync(join(dir, 'post-install'), 'echo hi\n');
    mkdirSync(join(dir, 'data/deep'), { recursive: true });
    writeFileSync(join(dir, 'data/deep/blob.bin'), Buffer.from([0, 1, 2]));
    mkdirSync(join(dir, 'empty'));
    const files = await readContextDir(dir);
    expect([...files.keys()].sort()).toEqual(['common/network', 'data/deep/blob.bin', 'post-install']);
    expect(files.get('post-install')?.toString()).toBe('echo hi\n');
    expect(files.get('data/deep/blob.bin')).toEqual(Buffer.from([0, 1, 2]));
  });

  // Issue 10 row 7: a link is never followed nor skipped, inside the tree or out, so the mounted CD
  // (read with this reader) and the in-process ISO reader see one context.
  it('refuses every symlink (inside, outside, dangling, loop), hard links and FIFOs, all in one error', async () => {
    writeFileSync(join(base, 'secret'), 'x');
    writeFileSync(join(dir, 'net.real'), 'GATEWAY=\n');
    symlinkSync('../net.real', join(dir, 'common/network'));
    symlinkSync('/etc/passwd', join(dir, 'common/passwd'));
    symlinkSync('../../secret', join(dir, 'common/routes'));
    symlinkSync('nowhere', join(dir, 'dangling'));
    symlinkSync('..', join(dir, 'common/loop'));
    symlinkSync('common', join(dir, 'dir-link'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    writeFileSync(join(dir, 'data'), 'shared');
    linkSync(join(dir, 'data'), join(dir, 'data-again'));
    expect(await refusal()).toEqual([
      'common/loop: a symbolic link (-> ..); a context holds regular files only',
      'common/network: a symbolic link (-> ../net.real); a context holds regular files only',
      'common/passwd: a symbolic link (-> /etc/passwd); a context holds regular files only',
      'common/routes: a symbolic link (-> ../../secret); a context holds regular files only',
      'dangling: a symbolic link (-> nowhere); a context holds regular files only',
      'data: a hard link (one file with 2 names); a context holds regular files only',
      'data-again: a hard link (one file with 2 names); a context holds regular files only',
      'dir-link: a symbolic link (-> common); a context holds regular files only',
      'fifo: a FIFO; a context holds regular files only',
    ]);
  });

  it('refuses device nodes (needs CAP_MKNOD to make one; skipped, saying so, without it)', async (t) => {
    try {
      execFileSync('mknod', [join(dir, 'null'), 'c', '1', '3'], { stdio: 'ignore' });
    } catch {
      t.skip('mknod is not permitted here, so no device node can be planted');
    }
    expect(await refusal()).toEqual(['null: a device node; a context holds regular files only']);
  });

  it('the root itself may be reached through a symlink (the operator names it)', async () => {
    writeFileSync(join(dir, 'common/network'), 'GATEWAY=\n');
    symlinkSync(dir, join(base, 'via-link'));
    expect([...(await readContextDir(join(base, 'via-link'))).keys()]).toEqual(['common/network']);
  });

  it('refuses oversized files by their size, before reading them', async () => {
    writeFileSync(join(dir, 'common/network'), Buffer.alloc(LIMITS.textFileBytes + 1, 0x23));
    writeFileSync(join(dir, 'post-install'), Buffer.alloc(LIMITS.postInstallBytes + 1, 0x23));
    expect(await refusal()).toEqual([
      `common/network: file is ${LIMITS.textFileBytes + 1} bytes; the limit is ${LIMITS.textFileBytes}`,
      `post-install: file is ${LIMITS.postInstallBytes + 1} bytes; the limit is ${LIMITS.postInstallBytes}`,
    ]);
  });

  it('refuses too many files and too deep trees', async () => {
    for (let i = 0; i <= LIMITS.files; i++) writeFileSync(join(dir, `f${String(i).padStart(4, '0')}`), '');
    expect(await refusal()).toEqual([`${dir}: more than ${LIMITS.files} files; a context holds at most ${LIMITS.files}`]);

    rmSync(dir, { recursive: true });
    const deep = join(dir, ...Array.from({ length: LIMITS.depth + 1 }, (_, i) => `d${i}`));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'f'), '');
    const problems = await refusal();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^d0/.*/d${LIMITS.depth}: nested deeper than ${LIMITS.depth} directories$`));
  });

  it('refuses a path that is not a directory', async () => {
    writeFileSync(join(base, 'file'), '');
    await expect(readContextDir(join(base, 'file'))).rejects.toThrow(/cannot read the context directory: not a directory/);
    await expect(readContextDir(join(base, 'missing'))).rejects.toThrow(/cannot read the context directory/);
  });
});

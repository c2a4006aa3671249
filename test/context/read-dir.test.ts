import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
  it('reads every file as a relative POSIX path, following symlinks that stay inside', async () => {
    writeFileSync(join(dir, 'common/network'), 'NAMESERVER=10.0.0.1\n');
    writeFileSync(join(dir, 'post-install'), 'echo hi\n');
    mkdirSync(join(dir, 'data/deep'), { recursive: true });
    writeFileSync(join(dir, 'data/deep/blob.bin'), Buffer.from([0, 1, 2]));
    symlinkSync('../post-install', join(dir, 'common/script-link'));
    symlinkSync('data', join(dir, 'data-link'));
    const files = await readContextDir(dir);
    expect([...files.keys()].sort()).toEqual([
      'common/network', 'common/script-link', 'data-link/deep/blob.bin', 'data/deep/blob.bin', 'post-install',
    ]);
    expect(files.get('common/script-link')?.toString()).toBe('echo hi\n');
    expect(files.get('data/deep/blob.bin')).toEqual(Buffer.from([0, 1, 2]));
  });

  it('refuses symlinks leading outside, dangling symlinks, FIFOs and loops, all in one error', async () => {
    writeFileSync(join(base, 'secret'), 'x');
    symlinkSync('/etc/passwd', join(dir, 'common/network'));
    symlinkSync('../../secret', join(dir, 'common/routes'));
    symlinkSync('nowhere', join(dir, 'dangling'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    symlinkSync('..', join(dir, 'common/loop'));
    expect(await refusal()).toEqual([
      'common/loop: symlink loop (directory already being read)',
      'common/network: symlink points outside the context directory',
      'common/routes: symlink points outside the context directory',
      'dangling: dangling symlink',
      'fifo: special file (device, FIFO or socket) is not allowed in a context',
    ]);
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

/**
 * lib/fs's two flavours (sync: the agent; async: contextgen) follow one policy: temps swept when their
 * writer is dead, link() no-clobber, only regular files or symlinks replaced, errors naming the target.
 * Each case runs against both, on a real filesystem.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FsError, replaceFileAtomic, replaceFileAtomicAsync } from '../../lib/fs/index.js';

const base = mkdtempSync(join(tmpdir(), 'fs-atomic-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(base, String(n++));
  execFileSync('mkdir', [d]);
  return d;
};

type Write = (target: string, data: string, mode: number, opts?: { noClobber?: boolean }) => Promise<void>;
const flavours: [string, Write][] = [
  ['sync', async (t, d, m, o) => replaceFileAtomic(t, d, m, o)],
  ['async', (t, d, m, o) => replaceFileAtomicAsync(t, d, m, o)],
];

/** A pid that is certainly not running: a child that has exited. */
const deadPid = (): number => spawnSync('true').pid!;

describe.each(flavours)('lib/fs %s flavour', (_name, write) => {
  it('writes with the mode given (not narrowed by the umask) and leaves no temp', async () => {
    const d = freshDir();
    await write(join(d, 'a'), 'one', 0o640);
    expect(readFileSync(join(d, 'a'), 'utf8')).toBe('one');
    expect(statSync(join(d, 'a')).mode & 0o777).toBe(0o640);
    await write(join(d, 'a'), 'two', 0o600);
    expect(readFileSync(join(d, 'a'), 'utf8')).toBe('two');
    expect(readdirSync(d)).toEqual(['a']);
  });

  it("sweeps a dead writer's temp of the same target, never a live writer's or another target's", async () => {
    const d = freshDir();
    const dead = `.a.${deadPid()}.0123abcd.tmp`;
    const live = `.a.1.89abcdef.tmp`; // pid 1 is alive
    const other = `.b.${deadPid()}.0123abcd.tmp`;
    for (const f of [dead, live, other]) writeFileSync(join(d, f), 'x');
    await write(join(d, 'a'), 'data', 0o644);
    expect(readdirSync(d).sort()).toEqual([live, other, 'a'].sort());
  });

  it('no-clobber refuses an existing target (EEXIST) and keeps its content', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'a'), 'mine');
    const e = await write(join(d, 'a'), 'new', 0o644, { noClobber: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FsError);
    expect((e as FsError).code).toBe('EEXIST');
    expect((e as FsError).message).toBe(`${join(d, 'a')}: already exists`);
    expect(readFileSync(join(d, 'a'), 'utf8')).toBe('mine');
  });

  it('replaces a symlink itself, never its target; refuses a FIFO (ENOTREG)', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'victim'), 'keep');
    symlinkSync('victim', join(d, 'link'));
    await write(join(d, 'link'), 'new', 0o644);
    expect(readFileSync(join(d, 'victim'), 'utf8')).toBe('keep');
    expect(readFileSync(join(d, 'link'), 'utf8')).toBe('new');
    execFileSync('mkfifo', [join(d, 'fifo')]);
    const e = await write(join(d, 'fifo'), 'x', 0o644).catch((x: unknown) => x);
    expect((e as FsError).code).toBe('ENOTREG');
    expect((e as FsError).message).toBe(`${join(d, 'fifo')}: a FIFO where a regular file is expected; refusing to replace it`);
  });

  it('a failure names the target, never the temp file, and keeps the errno as cause', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'file'), '');
    const target = join(d, 'file', 'below'); // a parent that is not a directory: ENOTDIR
    const e = (await write(target, 'x', 0o644).catch((x: unknown) => x)) as FsError;
    expect(e).toBeInstanceOf(FsError);
    expect(e.path).toBe(target);
    expect(e.message.startsWith(`${target}: cannot write: `)).toBe(true);
    expect(e.message).not.toMatch(/\.tmp/);
    expect((e.cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  });
});

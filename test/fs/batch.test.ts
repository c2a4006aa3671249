/**
 * lib/fs writeBatchAtomic: many crash-safe replaces sharing their flushes. What it promises, on a real
 * filesystem: each group placed and its directories fsync'ed before the next group's first rename (so
 * backups are durable before the files they back up are replaced), every target checked before any
 * temp is placed, nothing placed and no temp left when one target is refused, the groups before a
 * failure while placing kept and no temp left behind. The syscall order is read with strace from a
 * real process doing the batch (the crash suite kills the agent at each of those syscalls).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FsError, writeBatchAtomic } from '../../lib/fs/index.js';
import { REPO, requireOrSkip } from '../support/fake-roots.js';

const base = mkdtempSync(join(tmpdir(), 'fs-batch-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (...subs: string[]) => {
  const d = join(base, String(n++));
  for (const s of ['', ...subs]) mkdirSync(join(d, s), { recursive: true });
  return d;
};
/** Every name under `dir`, recursively, sorted (temps included: none may be left). */
const tree = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).sort();
const hasStrace = spawnSync('strace', ['-V']).status === 0;

describe('writeBatchAtomic', () => {
  it('writes every group with its modes, replaces old files, leaves no temp', () => {
    const d = freshDir('backup', 'etc');
    writeFileSync(join(d, 'etc/a'), 'old a');
    writeBatchAtomic([
      [{ target: join(d, 'backup/a.prev'), data: 'old a', mode: 0o600 }],
      [{ target: join(d, 'etc/a'), data: 'new a', mode: 0o644 }, { target: join(d, 'etc/b'), data: Buffer.from('b'), mode: 0o400 }],
    ]);
    expect(readFileSync(join(d, 'backup/a.prev'), 'utf8')).toBe('old a');
    expect(readFileSync(join(d, 'etc/a'), 'utf8')).toBe('new a');
    expect(statSync(join(d, 'etc/b')).mode & 0o777).toBe(0o400);
    expect(tree(d)).toEqual(['backup', 'backup/a.prev', 'etc', 'etc/a', 'etc/b']);
  });

  it('a refused target in a later group: nothing of any group is placed, no temp is left', () => {
    const d = freshDir('backup', 'etc');
    writeFileSync(join(d, 'etc/a'), 'old a');
    execFileSync('mkfifo', [join(d, 'etc/fifo')]);
    let e: unknown;
    try {
      writeBatchAtomic([
        [{ target: join(d, 'backup/a.prev'), data: 'old a', mode: 0o600 }],
        [{ target: join(d, 'etc/a'), data: 'new a', mode: 0o644 }, { target: join(d, 'etc/fifo'), data: 'x', mode: 0o644 }],
      ]);
    } catch (x) { e = x; }
    expect(e).toBeInstanceOf(FsError);
    expect((e as FsError).message).toBe(`${join(d, 'etc/fifo')}: a FIFO where a regular file is expected; refusing to replace it`);
    expect(readFileSync(join(d, 'etc/a'), 'utf8')).toBe('old a');
    expect(tree(d)).toEqual(['backup', 'etc', 'etc/a', 'etc/fifo']);
  });

  it('a target given twice is refused before anything is written', () => {
    const d = freshDir();
    expect(() => writeBatchAtomic([[{ target: join(d, 'a'), data: '1', mode: 0o644 }], [{ target: join(d, 'a'), data: '2', mode: 0o644 }]]))
      .toThrow(`${join(d, 'a')}: written twice in one batch`);
    expect(tree(d)).toEqual([]);
  });

  it('a failure while placing keeps the groups placed before it and removes every temp not placed', () => {
    const d = freshDir('backup', 'etc');
    writeFileSync(join(d, 'etc/a'), 'old a');
    // Another writer creates etc/new between the check and the placing: the no-clobber link fails.
    const late = join(d, 'etc/new');
    let e: unknown;
    try {
      writeBatchAtomic([
        [{ target: join(d, 'backup/a.prev'), data: 'old a', mode: 0o600 }],
        [
          { target: late, data: 'mine', mode: 0o644, noClobber: true },
          { target: join(d, 'etc/a'), data: 'new a', mode: 0o644, verify: () => writeFileSync(late, 'theirs') },
        ],
      ]);
    } catch (x) { e = x; }
    expect((e as FsError).code).toBe('EEXIST');
    expect((e as FsError).message).toBe(`${late}: already exists`);
    expect(readFileSync(late, 'utf8')).toBe('theirs');
    expect(readFileSync(join(d, 'etc/a'), 'utf8')).toBe('old a');
    expect(readFileSync(join(d, 'backup/a.prev'), 'utf8')).toBe('old a');
    expect(tree(d)).toEqual(['backup', 'backup/a.prev', 'etc', 'etc/a', 'etc/new']);
  });

  it('syscall order: all temps fsync\'ed, then each group renamed and its directories fsync\'ed once, group by group', (ctx) => {
    if (!requireOrSkip(hasStrace, 'strace')) return ctx.skip();
    const d = freshDir('backup/etc', 'etc', 'var');
    for (const f of ['etc/a', 'etc/b', 'var/c']) writeFileSync(join(d, f), `old ${f}`);
    const script = join(d, '..', `batch-${n}.ts`);
    writeFileSync(script, `import { writeBatchAtomic } from ${JSON.stringify(join(REPO, 'lib/fs/index.ts'))};
const d = ${JSON.stringify(d)};
writeBatchAtomic([
  ['etc/a', 'etc/b'].map((f) => ({ target: d + '/backup/' + f + '.prev', data: 'old ' + f, mode: 0o600 })),
  ['etc/a', 'etc/b', 'var/c'].map((f) => ({ target: d + '/' + f, data: 'new ' + f, mode: 0o644 })),
]);
`);
    const out = join(d, '..', `batch-${n}.trace`);
    const tsx = join(REPO, 'node_modules/.bin/tsx');
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat,fsync,rename,close', '-o', out, tsx, script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // The batch's own syscalls: those naming a path under d, and the fsyncs of descriptors opened on one.
    const fdPath = new Map<string, string>();
    const events: string[] = [];
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const open = /openat\(AT_FDCWD, "([^"]+)".*\) = (\d+)$/.exec(line);
      if (open && open[1]!.startsWith(d)) fdPath.set(open[2]!, open[1]!.slice(d.length + 1));
      const sync = /fsync\((\d+)\)/.exec(line);
      if (sync && fdPath.has(sync[1]!)) events.push(`fsync ${fdPath.get(sync[1]!)!.replace(/\/\.([^/]+)\.\d+\.[0-9a-f]{8}\.tmp$/, '/$1~')}`);
      const ren = /rename\("[^"]+", "([^"]+)"\)/.exec(line);
      if (ren && ren[1]!.startsWith(d)) events.push(`rename ${ren[1]!.slice(d.length + 1)}`);
      const close = /close\((\d+)\)/.exec(line);
      if (close) fdPath.delete(close[1]!);
    }
    expect(events).toEqual([
      'fsync backup/etc/a.prev~', 'fsync backup/etc/b.prev~', 'fsync etc/a~', 'fsync etc/b~', 'fsync var/c~',
      'rename backup/etc/a.prev', 'rename backup/etc/b.prev', 'fsync backup/etc',
      'rename etc/a', 'rename etc/b', 'rename var/c', 'fsync etc', 'fsync var',
    ]);
  });
});

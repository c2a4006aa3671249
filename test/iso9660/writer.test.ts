/**
 * Writer behaviour: input validation (clear IsoError per bad value), determinism and timestamps,
 * symlink policy, collectDirectory against a real directory, and structural invariants of the image.
 */
import { chmodSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IsoError, collectDirectory, openIso, readVolumeId, writeIso, type IsoInputFile } from '../../lib/iso9660/index.js';
import { awkwardFiles, contextFiles, manyFiles, withSymlinks } from './fixtures.js';
import { prng, run, tempDir, xorrisoList } from './helpers.js';

const MTIME = new Date('2024-01-02T03:04:05Z');

function expectIsoError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(IsoError);
  expect((caught as Error).message).toMatch(pattern);
  expect((caught as Error).message).not.toContain('\n');
}

describe('volume label', () => {
  it('defaults to CONTEXT and accepts cidata (lower case, as cloud-init expects)', () => {
    expect(readVolumeId(writeIso(contextFiles(), { mtime: MTIME }))).toBe('CONTEXT');
    expect(readVolumeId(writeIso(contextFiles(), { mtime: MTIME, volumeId: 'cidata' }))).toBe('cidata');
    expect(readVolumeId(writeIso([], { mtime: MTIME, volumeId: 'A'.repeat(32) }))).toBe('A'.repeat(32));
  });

  it.each([
    ['', /volume label "": must be 1-32 characters/],
    ['A'.repeat(33), /volume label "A{33}": must be 1-32/],
    ['has space', /volume label "has space"/],
    ['new\nline', /volume label "new\\nline"/],
    ['caf\u00e9', /volume label "caf\u00e9"/],
    ['semi;colon', /volume label "semi;colon"/],
  ])('rejects %j', (label, pattern) => {
    expectIsoError(() => writeIso(contextFiles(), { volumeId: label }), pattern);
  });

  it('the Joliet descriptor carries the same label (blkid reports the Joliet one)', () => {
    const img = writeIso([], { mtime: MTIME, volumeId: 'cidata' });
    const svd = img.subarray(17 * 2048, 18 * 2048);
    expect(svd[0]).toBe(2);
    expect(svd.subarray(88, 91).toString('latin1')).toBe('%/E');
    const id = Buffer.from(svd.subarray(40, 52));
    expect(id.swap16().toString('utf16le')).toBe('cidata');
    const tmp = tempDir();
    try {
      const iso = join(tmp.dir, 'l.iso');
      writeFileSync(iso, img);
      expect(run('blkid', ['-p', '-o', 'value', '-s', 'LABEL', iso]).trim()).toBe('cidata');
      expect(run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', iso]).trim()).toBe('iso9660');
    } finally {
      tmp.cleanup();
    }
  });
});

describe('input validation', () => {
  it.each([
    [{ path: '/abs', data: Buffer.from('') }, /"\/abs": path must be relative/],
    [{ path: 'a/../b', data: Buffer.from('') }, /"a\/..\/b": path segment "\.\." is not allowed/],
    [{ path: 'a//b', data: Buffer.from('') }, /path segment "" is not allowed/],
    [{ path: '', data: Buffer.from('') }, /path is empty/],
    [{ path: 'bad\nname', data: Buffer.from('') }, /control character/],
    [{ path: 'x'.repeat(256), data: Buffer.from('') }, /longer than 255 bytes/],
    [{ path: 'm', data: Buffer.from(''), mode: 0o10000 }, /mode 4096 is not a permission value/],
    [{ path: 'm', data: Buffer.from(''), mode: -1 }, /mode -1/],
  ] as [IsoInputFile, RegExp][])('rejects %j', (file, pattern) => {
    expectIsoError(() => writeIso([file]), pattern);
  });

  it('rejects duplicates and file/directory clashes', () => {
    expectIsoError(() => writeIso([{ path: 'a', data: Buffer.from('1') }, { path: 'a', data: Buffer.from('2') }]), /"a": given twice/);
    expectIsoError(() => writeIso([{ path: 'a', data: Buffer.from('1') }, { path: 'a/b', data: Buffer.from('2') }]), /"a\/b": "a" is a file, not a directory/);
    expectIsoError(() => writeIso([{ path: 'a/b', data: Buffer.from('1') }, { path: 'a', data: Buffer.from('2') }]), /"a": given twice \(or also implied as a directory\)/);
  });

  it('rejects bad system id / publisher and a bad SOURCE_DATE_EPOCH', () => {
    expectIsoError(() => writeIso([], { systemId: 'lower' }), /system id "lower"/);
    expectIsoError(() => writeIso([], { publisher: 'x'.repeat(129) }), /publisher/);
    process.env.SOURCE_DATE_EPOCH = 'yesterday';
    try {
      expectIsoError(() => writeIso([]), /SOURCE_DATE_EPOCH = "yesterday"/);
    } finally {
      delete process.env.SOURCE_DATE_EPOCH;
    }
  });
});

describe('symlinks', () => {
  it('are refused by default with a clear error', () => {
    expectIsoError(() => writeIso(withSymlinks()), /"links\/to-network": is a symlink \(-> "..\/common\/network"\); symlinks are refused unless symlinks: 'preserve'/);
  });

  it('are preserved as Rock Ridge SL with symlinks: preserve (our reader and xorriso agree)', () => {
    const img = openIso(writeIso(withSymlinks(), { symlinks: 'preserve', mtime: MTIME }));
    const links = img.entries().filter((e) => e.type === 'symlink');
    expect(links.map((l) => [l.path, l.target])).toEqual([
      ['links/absolute', '/etc/hostname'],
      ['links/long', `${'seg/'.repeat(80)}end`],
      ['links/to-network', '../common/network'],
    ]);
    expectIsoError(() => img.readFile('links/absolute'), /is a symlink, not a file/);
  });
});

describe('determinism and timestamps', () => {
  afterEach(() => {
    delete process.env.SOURCE_DATE_EPOCH;
  });

  it('same input -> same bytes, whatever the input order', () => {
    const files = awkwardFiles();
    const a = writeIso(files, { mtime: MTIME });
    const shuffled = [...files];
    const rnd = prng(42);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const b = writeIso(shuffled, { mtime: MTIME });
    expect(a.equals(b)).toBe(true);
  });

  it('SOURCE_DATE_EPOCH fixes volume dates and clamps file times; later writes are identical', async () => {
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    const files = [...contextFiles(), { path: 'future', data: Buffer.from('f'), mtime: new Date('2030-01-01T00:00:00Z') }, { path: 'past', data: Buffer.from('p'), mtime: new Date('2001-01-01T00:00:00Z') }];
    const a = writeIso(files);
    await new Promise((r) => setTimeout(r, 1100));
    const b = writeIso(files);
    expect(a.equals(b)).toBe(true);
    // PVD creation date (offset 813) is the epoch, as a 17-byte string.
    expect(a.toString('latin1', 16 * 2048 + 813, 16 * 2048 + 827)).toBe('20231114221320');
    const img = openIso(a);
    const t = new Map(img.entries().map((e) => [e.path, e.mtime?.toISOString()]));
    expect(t.get('future')).toBe('2023-11-14T22:13:20.000Z');
    expect(t.get('past')).toBe('2001-01-01T00:00:00.000Z');
    expect(t.get('common')).toBe('2023-11-14T22:13:20.000Z');
  });

  it('opts.mtime wins over per-file mtimes and SOURCE_DATE_EPOCH', () => {
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    const img = openIso(writeIso([{ path: 'a', data: Buffer.from('a'), mtime: new Date('2001-01-01Z') }], { mtime: MTIME }));
    expect(img.entries()[0]!.mtime?.toISOString()).toBe(MTIME.toISOString());
  });

  it('without either, timestamps are "now" (two writes may differ only in dates)', () => {
    const before = Date.now();
    const img = openIso(writeIso([{ path: 'a', data: Buffer.from('a') }]));
    const t = img.entries()[0]!.mtime!.getTime();
    expect(t).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(t).toBeLessThanOrEqual(Date.now());
  });
});

describe('collectDirectory', () => {
  it('reads a real tree with modes and mtimes, in sorted order; writes the same image as the equivalent list', async () => {
    const tmp = tempDir();
    try {
      for (const f of contextFiles()) {
        mkdirSync(join(tmp.dir, f.path, '..'), { recursive: true });
        writeFileSync(join(tmp.dir, f.path), f.data);
        chmodSync(join(tmp.dir, f.path), f.mode ?? 0o644);
        utimesSync(join(tmp.dir, f.path), MTIME, MTIME);
      }
      const got = await collectDirectory(tmp.dir);
      expect(got.map((f) => f.path)).toEqual(['common/authorized_keys', 'common/context.ini', 'common/network', 'common/routes', 'post-install']);
      const post = got.find((f) => f.path === 'post-install') as IsoInputFile;
      expect(post.mode).toBe(0o755);
      expect(post.mtime?.getTime()).toBe(MTIME.getTime());
      expect(writeIso(got, { mtime: MTIME }).equals(writeIso(contextFiles(), { mtime: MTIME }))).toBe(true);
      const iso = join(tmp.dir, '..', `${tmp.dir.split('/').pop()}.iso`);
      writeFileSync(iso, writeIso(got, { mtime: MTIME }));
      expect(xorrisoList(iso).get('post-install')?.mode).toBe(0o755);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses symlinks by default, keeps them with preserve, refuses FIFOs', async () => {
    const tmp = tempDir();
    try {
      writeFileSync(join(tmp.dir, 'real'), 'r');
      symlinkSync('real', join(tmp.dir, 'link'));
      await expect(collectDirectory(tmp.dir)).rejects.toThrow(/"link": is a symlink \(-> "real"\)/);
      const kept = await collectDirectory(tmp.dir, { symlinks: 'preserve' });
      expect(kept).toContainEqual({ path: 'link', target: 'real' });
      run('mkfifo', [join(tmp.dir, 'pipe')]);
      await expect(collectDirectory(tmp.dir, { symlinks: 'preserve' })).rejects.toThrow(/"pipe" in .*: not a regular file, directory or symlink/);
      await expect(collectDirectory(join(tmp.dir, 'real'))).rejects.toThrow(IsoError);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('structure', () => {
  it('records never cross sector boundaries and directories span several sectors when needed', () => {
    const img = writeIso(manyFiles(500), { mtime: MTIME });
    const iso = openIso(img);
    // 500 files in 7 directories of ~72 records with Rock Ridge: several sectors each.
    const d0 = iso.entries().find((e) => e.path === 'many/d0')!;
    expect(d0.size).toBeGreaterThan(2048 * 3);
    expect(iso.entries().filter((e) => e.type === 'file')).toHaveLength(500);
    expect(iso.readFile('many/d3/file-0003.txt').toString()).toBe('file 3\n'.repeat(3));
  });

  it('empty image (no files) is valid for xorriso and isoinfo', () => {
    const tmp = tempDir();
    try {
      const iso = join(tmp.dir, 'e.iso');
      writeFileSync(iso, writeIso([], { mtime: MTIME }));
      expect(xorrisoList(iso).size).toBe(0);
      expect(run('isoinfo', ['-d', '-i', iso])).toMatch(/Rock Ridge signatures version 1 found/);
      expect(run('isoinfo', ['-d', '-i', iso])).toMatch(/Joliet with UCS level 3 found/);
    } finally {
      tmp.cleanup();
    }
  });
});

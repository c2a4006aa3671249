/**
 * Images written by our writer, checked by independent tools: xorriso (libisofs), isoinfo (genisoimage
 * suite) and 7z. Each must list the same names, types, sizes and Rock Ridge modes we put in, and extract
 * the same bytes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIso, readAllFiles, writeIso, type IsoInputFile, type IsoInputSymlink } from '../../lib/iso9660/index.js';
import { DEEP_DIR, LONG_NAME, UNICODE_NAME, awkwardFiles, manyFiles, withSymlinks } from './fixtures.js';
import { isoinfoList, readTree, run, sevenZipList, tempDir, xorrisoList, type ListedEntry } from './helpers.js';

const MTIME = new Date('2024-05-06T07:08:09Z');

type Input = IsoInputFile | IsoInputSymlink;

/** What every Rock Ridge aware tool should see for these inputs (directories implied, 0755). */
function expectedTree(inputs: Input[]): Map<string, ListedEntry & { data?: Buffer }> {
  const map = new Map<string, ListedEntry & { data?: Buffer }>();
  for (const f of inputs) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) map.set(parts.slice(0, i).join('/'), { type: 'dir', mode: 0o755 });
    if ('data' in f) map.set(f.path, { type: 'file', size: f.data.length, mode: f.mode ?? 0o644, data: f.data });
    else map.set(f.path, { type: 'symlink', mode: 0o777, target: f.target });
  }
  return map;
}

function shape(m: Map<string, ListedEntry & { data?: Buffer }>, opts: { sizes: boolean; modes: boolean }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of m) {
    const parts: string[] = [v.type];
    if (opts.sizes && v.type === 'file') parts.push(`size=${v.size}`);
    if (opts.modes) parts.push(`mode=${(v.mode ?? 0).toString(8)}`);
    if (v.target !== undefined) parts.push(`-> ${v.target}`);
    out[k] = parts.join(' ');
  }
  return out;
}

const cases: { name: string; inputs: Input[] }[] = [
  { name: 'awkward tree (empty, 3 MB, 255-byte name, 12 levels deep, unicode, 8.3 collisions)', inputs: awkwardFiles() },
  { name: '500 files', inputs: manyFiles(500) },
  { name: 'preserved symlinks', inputs: withSymlinks() },
];

describe.each(cases)('our image read by independent tools: $name', ({ inputs }) => {
  let tmp: ReturnType<typeof tempDir>;
  let iso: string;
  const expected = expectedTree(inputs);

  beforeAll(() => {
    tmp = tempDir();
    iso = join(tmp.dir, 'out.iso');
    writeFileSync(iso, writeIso(inputs, { volumeId: 'cidata', mtime: MTIME, symlinks: 'preserve' }));
  });
  afterAll(() => tmp.cleanup());

  it('xorriso lists the same Rock Ridge names, types, sizes, modes and link targets', () => {
    const listed = xorrisoList(iso);
    // xorriso shows directory sizes as 0; compare file sizes only.
    expect(shape(listed, { sizes: true, modes: true })).toEqual(shape(expected, { sizes: true, modes: true }));
  });

  it('xorriso -osirrox extracts identical bytes, modes and symlinks', () => {
    const out = join(tmp.dir, 'xorriso-out');
    run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out]);
    const disk = readTree(out);
    expect([...disk.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [path, want] of expected) {
      const got = disk.get(path)!;
      expect(got.type, path).toBe(want.type);
      if (want.type === 'file') {
        expect(got.mode, path).toBe(want.mode);
        expect(got.data!.equals(want.data!), `${path} content`).toBe(true);
      }
      if (want.type === 'symlink') expect(got.target, path).toBe(want.target);
    }
  });

  it('isoinfo -R lists the same names, sizes and modes (incl. the 0755 exec bit)', () => {
    const listed = isoinfoList(iso, '-R');
    expect(shape(listed, { sizes: true, modes: true })).toEqual(shape(expected, { sizes: true, modes: true }));
    if (expected.has('post-install')) expect(listed.get('post-install')!.mode).toBe(0o755);
  });

  it('isoinfo -R -x extracts file contents', () => {
    for (const [path, want] of expected) {
      if (want.type !== 'file' || want.size! > 4096) continue;
      const got = execFileSync('isoinfo', ['-R', '-i', iso, '-x', `/${path}`], { maxBuffer: 16 << 20 });
      expect(got.equals(want.data!), path).toBe(true);
    }
  });

  it('isoinfo -J and 7z see the Joliet tree: same files and sizes, names cut to 64 UTF-16 units', () => {
    const jolietExpected = new Map<string, number>();
    const longOnes: number[] = [];
    for (const [path, want] of expected) {
      if (want.type !== 'file') continue;
      if (path.split('/').some((seg) => seg.length > 64)) longOnes.push(want.size!);
      else jolietExpected.set(path, want.size!);
    }
    for (const listed of [isoinfoList(iso, '-J'), sevenZipList(iso)]) {
      const files = [...listed].filter(([, e]) => e.type === 'file');
      expect(files.length).toBe(jolietExpected.size + longOnes.length);
      for (const [path, size] of jolietExpected) {
        // isoinfo prints non-ASCII Joliet characters as '_' when it cannot convert them.
        if (/[^\x20-\x7e]/.test(path) && !listed.has(path)) continue;
        expect(listed.get(path)?.size, path).toBe(size);
      }
      for (const [path] of files) for (const seg of path.split('/')) expect(seg.length).toBeLessThanOrEqual(64);
      // No symlinks in Joliet (it cannot express them).
      expect([...listed.values()].some((e) => e.type === 'symlink')).toBe(false);
    }
  });

  it('7z x extracts identical bytes for every file (names via Joliet)', () => {
    const out = join(tmp.dir, '7z-out');
    run('7z', ['x', '-y', `-o${out}`, iso]);
    const disk = readTree(out);
    for (const [path, want] of expected) {
      if (want.type !== 'file' || path.split('/').some((s) => s.length > 64)) continue;
      expect(disk.get(path)?.data?.equals(want.data!), path).toBe(true);
    }
  });

  it('our reader agrees (Rock Ridge naming, volume id, contents)', () => {
    const img = openIso(iso);
    try {
      expect(img.volumeId).toBe('cidata');
      expect(img.naming).toBe('rockridge');
      const got = new Map(img.entries().map((e) => [e.path, { type: e.type, size: e.size, mode: e.mode, target: e.target } as ListedEntry]));
      expect(shape(got, { sizes: true, modes: true })).toEqual(shape(expected, { sizes: true, modes: true }));
      for (const [path, want] of expected) if (want.type === 'file') expect(img.readFile(path).equals(want.data!), path).toBe(true);
      // As a context, a tree with a symlink is refused whole; without one it reads as it was written.
      const link = [...expected].filter(([, e]) => e.type === 'symlink').sort(([a], [b]) => (a < b ? -1 : 1))[0]; // the first, as listed
      if (link) expect(() => readAllFiles(img)).toThrow(`: ${link[0]}: a symbolic link (-> ${link[1].target}); a context holds regular files only`);
      else expect(readAllFiles(img).size).toBe([...expected.values()].filter((e) => e.type === 'file').length);
    } finally {
      img.close();
    }
  });
});

describe('specific names survive intact in Rock Ridge', () => {
  it('255-byte name, deep path, unicode name, both case variants', () => {
    const tmp = tempDir();
    try {
      const iso = join(tmp.dir, 'n.iso');
      writeFileSync(iso, writeIso(awkwardFiles(), { mtime: MTIME }));
      const listed = xorrisoList(iso);
      expect(listed.has(`names/${LONG_NAME}`)).toBe(true);
      expect(Buffer.byteLength(LONG_NAME)).toBe(255);
      expect(listed.get(`${DEEP_DIR}/bottom.txt`)?.mode).toBe(0o700);
      expect(listed.has(`names/${UNICODE_NAME}`)).toBe(true);
      expect(listed.has('names/UPPER.TXT') && listed.has('names/upper.txt')).toBe(true);
      // Default label when none given.
      expect(run('isoinfo', ['-d', '-i', iso])).toMatch(/^Volume id: CONTEXT$/m);
      expect(readFileSync(iso).length % 2048).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });
});

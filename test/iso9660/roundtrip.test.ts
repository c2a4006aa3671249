/**
 * Property-style round trips: seeded random trees (odd names, unicode, sector-boundary sizes, modes incl.
 * setuid) written by our writer must read back identically with our reader, and with xorriso for a subset.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openIso, readAllFiles, writeIso, type IsoInputFile } from '../../lib/iso9660/index.js';
import { prng, tempDir, xorrisoList } from './helpers.js';

const ALPHABET = ['a', 'b', 'Z', '0', '9', '_', '-', '.', ' ', '~', '+', '=', ',', '@', '\u00e9', '\u00df', '\u65e5', '\u{1F600}', 'A', 'q'];
const SIZES = [0, 1, 7, 2047, 2048, 2049, 4096, 5000, 10_000];
const MODES = [0o644, 0o755, 0o600, 0o400, 0o4755, 0o2750, 0o1777, 0o000];

function randomName(rnd: () => number): string {
  const long = rnd() < 0.1;
  const len = long ? 60 + Math.floor(rnd() * 60) : 1 + Math.floor(rnd() * 14);
  let s = '';
  while (s.length < len) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  // Cut to 255 UTF-8 bytes on a code point boundary.
  while (Buffer.byteLength(s) > 255) s = [...s].slice(0, -1).join('');
  return s === '.' || s === '..' ? `${s}x` : s;
}

function randomTree(seed: number): IsoInputFile[] {
  const rnd = prng(seed);
  const files = new Map<string, IsoInputFile>();
  const dirs = new Set<string>();
  const count = 1 + Math.floor(rnd() * 40);
  for (let i = 0; i < count; i++) {
    const depth = Math.floor(rnd() * 10);
    const parts: string[] = [];
    for (let d = 0; d < depth; d++) parts.push(rnd() < 0.5 ? `d${d}` : randomName(rnd));
    parts.push(randomName(rnd));
    const path = parts.join('/');
    // Skip clashes between a file and a directory of the same path.
    const prefixes = parts.slice(0, -1).map((_, k) => parts.slice(0, k + 1).join('/'));
    if (files.has(path) || dirs.has(path) || prefixes.some((p) => files.has(p))) continue;
    prefixes.forEach((p) => dirs.add(p));
    const size = SIZES[Math.floor(rnd() * SIZES.length)]!;
    const data = Buffer.alloc(size);
    for (let k = 0; k < size; k++) data[k] = (k * 31 + seed) & 0xff;
    files.set(path, { path, data, mode: MODES[Math.floor(rnd() * MODES.length)]! });
  }
  return [...files.values()];
}

describe('random trees round-trip through our writer and reader', () => {
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('seed %d', (seed) => {
    const files = randomTree(seed);
    const img = openIso(writeIso(files, { mtime: new Date('2022-02-02T02:02:02Z') }));
    const got = readAllFiles(img);
    expect(got.size).toBe(files.length);
    const entries = new Map(img.entries().map((e) => [e.path, e]));
    for (const f of files) {
      expect(got.get(f.path)?.equals(f.data), f.path).toBe(true);
      expect(entries.get(f.path)?.mode, f.path).toBe(f.mode);
    }
  });
});

describe('random trees are listed identically by xorriso', () => {
  it.each([3, 7, 11, 19, 23])('seed %d', (seed) => {
    const files = randomTree(seed);
    const tmp = tempDir();
    try {
      const iso = join(tmp.dir, 'r.iso');
      writeFileSync(iso, writeIso(files, { mtime: new Date('2022-02-02T02:02:02Z') }));
      const listed = xorrisoList(iso);
      for (const f of files) {
        expect(listed.get(f.path), f.path).toMatchObject({ type: 'file', size: f.data.length, mode: f.mode! & 0o777 });
      }
      expect([...listed.values()].filter((e) => e.type === 'file')).toHaveLength(files.length);
    } finally {
      tmp.cleanup();
    }
  });
});

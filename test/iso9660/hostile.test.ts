/**
 * Hostile and broken images: every case must end in an IsoError with a clear message, quickly, without
 * reading more than the limits allow. Images are made by our writer (or genisoimage) and then patched.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsoError, openIso, readAllFiles, readVolumeId, writeIso, type IsoLimits } from '../../lib/iso9660/index.js';
import { contextFiles, manyFiles, awkwardFiles } from './fixtures.js';
import { prng, run, tempDir } from './helpers.js';

const MTIME = new Date('2024-01-02T03:04:05Z');
const S = 2048;

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('iso-hostile-');
});
afterAll(() => tmp.cleanup());

/** Open and read everything; return the IsoError message, or fail if it succeeded or threw anything else. */
function isoErrorOf(source: string | Buffer, limits?: Partial<IsoLimits>): string {
  const t0 = performance.now();
  let caught: unknown;
  try {
    const img = openIso(source, limits);
    try {
      readAllFiles(img);
    } finally {
      img.close();
    }
  } catch (e) {
    caught = e;
  }
  expect(performance.now() - t0, 'hostile image handled quickly').toBeLessThan(1000);
  expect(caught, 'expected an IsoError').toBeInstanceOf(IsoError);
  const msg = (caught as Error).message;
  expect(msg).not.toContain('\n');
  return msg;
}

function image(files = contextFiles()): Buffer {
  return writeIso([...files, { path: `dir/${'n'.repeat(240)}`, data: Buffer.from('long') }], { mtime: MTIME, volumeId: 'CONTEXT' });
}

function setBoth32(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v >>> 0, off);
  b.writeUInt32BE(v >>> 0, off + 4);
}

const rootLba = (img: Buffer) => img.readUInt32LE(16 * S + 156 + 2);

/** Byte offset of the primary-hierarchy record whose identifier is `id` inside the directory at `dirLba`. */
function findRecord(img: Buffer, dirLba: number, id: string): number {
  const start = dirLba * S;
  const size = img.readUInt32LE(start + 10);
  for (let p = start; p < start + size; ) {
    const len = img[p]!;
    if (len === 0) {
      p = (Math.floor((p - start) / S) + 1) * S + start;
      continue;
    }
    if (img.toString('latin1', p + 33, p + 33 + img[p + 32]!) === id) return p;
    p += len;
  }
  throw new Error(`record ${id} not found`);
}

function findInRecord(img: Buffer, rec: number, sig: string): number {
  const end = rec + img[rec]!;
  const at = img.indexOf(sig, rec + 33, 'latin1');
  if (at < 0 || at >= end) throw new Error(`${sig} not in record`);
  return at;
}

describe('not ISO 9660 at all', () => {
  it.each([0, 1, 2048, 34_816, 40_000, 1 << 20])('%d random bytes -> IsoError, readVolumeId undefined', (n) => {
    const rnd = prng(n + 1);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
    expect(isoErrorOf(b)).toMatch(/too small|not ISO 9660/);
    expect(readVolumeId(b)).toBeUndefined();
  });

  it('paths that are missing, directories, or FIFOs -> IsoError', () => {
    expect(isoErrorOf(join(tmp.dir, 'missing.iso'))).toMatch(/cannot open \(ENOENT\)/);
    expect(isoErrorOf(tmp.dir)).toMatch(/not a regular file or block device/);
    expect(() => readVolumeId(join(tmp.dir, 'missing.iso'))).toThrow(IsoError);
  });
});

describe('truncated images', () => {
  const full = image([...contextFiles(), ...manyFiles(50)]);
  it.each([100, 16 * S, 16 * S + 100, 17 * S, 19 * S, 25 * S, Math.floor(full.length / 2), full.length - S, full.length - 1])('cut at %d bytes -> IsoError', (cut) => {
    expect(isoErrorOf(full.subarray(0, cut))).toMatch(/too small|truncated|past the end|no terminator/);
  });

  it('truncated image file on disk -> IsoError (positional reads, no mount)', () => {
    const p = join(tmp.dir, 'trunc.iso');
    writeFileSync(p, full.subarray(0, full.length - 3 * S));
    expect(isoErrorOf(p)).toMatch(/truncated \(volume claims \d+ bytes, image has \d+\)/);
  });
});

describe('bad volume descriptors', () => {
  it('no CD001 at sector 16', () => {
    const b = image();
    b.write('CD002', 16 * S + 1, 'latin1');
    expect(isoErrorOf(b)).toMatch(/not ISO 9660 \(no CD001 signature at sector 16\)/);
    expect(readVolumeId(b)).toBeUndefined();
  });

  it('missing terminator', () => {
    const b = image();
    b.fill(0, 18 * S, 19 * S);
    expect(isoErrorOf(b)).toMatch(/bad volume descriptor at sector 18/);
  });

  it('no primary descriptor', () => {
    const b = image();
    b[16 * S] = 3;
    expect(isoErrorOf(b)).toMatch(/no primary volume descriptor/);
    expect(readVolumeId(b)).toBeUndefined();
  });

  it('unsupported logical block size', () => {
    const b = image();
    b.writeUInt16LE(512, 16 * S + 128);
    expect(isoErrorOf(b)).toMatch(/logical block size 512 is not supported/);
  });

  it('endless descriptor chain (no terminator in the first 64)', () => {
    const b = writeIso([{ path: 'big', data: Buffer.alloc(200 * S, 1) }], { mtime: MTIME });
    for (let s = 18; s < 18 + 80; s++) {
      b.fill(0, s * S, (s + 1) * S);
      b[s * S] = 2;
      b.write('CD001', s * S + 1, 'latin1');
    }
    expect(isoErrorOf(b)).toMatch(/more than 64 volume descriptors/);
  });

  it('root record not a directory', () => {
    const b = image();
    b[16 * S + 156 + 25] = 0;
    expect(isoErrorOf(b)).toMatch(/primary root directory record is invalid/);
  });
});

describe('patched directory structures', () => {
  it('a subdirectory pointing back at the root (loop) -> IsoError, no hang', () => {
    const b = image();
    const rec = findRecord(b, rootLba(b), 'COMMON');
    setBoth32(b, rec + 2, rootLba(b));
    expect(isoErrorOf(b)).toMatch(/directory loop: "common" points back at block \d+/);
  });

  it('a subdirectory pointing at itself -> IsoError', () => {
    const b = image();
    const rec = findRecord(b, rootLba(b), 'COMMON');
    const own = b.readUInt32LE(rec + 2);
    // Turn common/network into a directory whose extent is common itself.
    const file = findRecord(b, own, 'NETWORK.;1');
    setBoth32(b, file + 2, own);
    setBoth32(b, file + 10, S);
    b[file + 25] = 2;
    expect(isoErrorOf(b)).toMatch(/directory loop/);
  });

  it('file extent past the end of the image -> IsoError naming the file', () => {
    const b = image();
    const dir = b.readUInt32LE(findRecord(b, rootLba(b), 'COMMON') + 2);
    setBoth32(b, findRecord(b, dir, 'NETWORK.;1') + 2, 0x00ffffff);
    expect(isoErrorOf(b)).toMatch(/file "common\/network": extent at block 16777215 .* past the end/);
  });

  it('absurd file size (4 GiB - 1) -> IsoError, nothing allocated', () => {
    const b = image();
    const dir = b.readUInt32LE(findRecord(b, rootLba(b), 'COMMON') + 2);
    setBoth32(b, findRecord(b, dir, 'ROUTES.;1') + 10, 0xffffffff);
    expect(isoErrorOf(b)).toMatch(/"common\/routes": extent .*4294967295 bytes.* past the end/);
  });

  it('file within the image but over maxFileSize -> listing works, readFile refuses', () => {
    const b = writeIso([{ path: 'big.bin', data: Buffer.alloc(3 << 20, 9) }], { mtime: MTIME });
    const img = openIso(b, { maxFileSize: 1 << 20 });
    expect(img.entries()[0]).toMatchObject({ path: 'big.bin', size: 3 << 20 });
    expect(() => img.readFile('big.bin')).toThrow(/3145728 bytes exceeds 1048576 \(limit maxFileSize\)/);
    expect(isoErrorOf(b, { maxTotalSize: 1 << 20 })).toBe('ISO image: more than 1048576 bytes in all; a context holds at most 1048576');
  });

  it('huge directory extent in a sparse 64 MiB image -> stops at maxDirectoryBytes without reading it', () => {
    const small = image();
    const p = join(tmp.dir, 'sparse.iso');
    const fd = openSync(p, 'w');
    writeSync(fd, small, 0, small.length, 0);
    ftruncateSync(fd, 64 << 20);
    const pvd = Buffer.from(small.subarray(16 * S, 17 * S));
    setBoth32(pvd, 80, (64 << 20) / S);
    setBoth32(pvd, 156 + 10, 40 << 20);
    writeSync(fd, pvd, 0, S, 16 * S);
    closeSync(fd);
    const rss0 = process.memoryUsage().rss;
    expect(isoErrorOf(p)).toMatch(/directory data exceeds 16777216 bytes \(limit maxDirectoryBytes\)/);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(32 << 20);
  });

  it('directory record crossing a sector boundary / too short -> IsoError', () => {
    const b = image();
    const common = findRecord(b, rootLba(b), 'COMMON');
    b[common] = 3; // claims 3 bytes
    expect(isoErrorOf(b)).toMatch(new RegExp(`directory "/": record at offset ${common - rootLba(b) * S} is 3 bytes`));
    // The last record of a full directory sector made longer, so that it runs into the next sector.
    const c = writeIso(manyFiles(500), { mtime: MTIME });
    const many = c.readUInt32LE(findRecord(c, rootLba(c), 'MANY') + 2);
    const d0 = c.readUInt32LE(findRecord(c, many, 'D0') + 2) * S;
    let last = d0;
    while (c[last]! > 0 && last + c[last]! < d0 + S) last += c[last]!;
    const stretched = d0 + S - last + 2;
    expect(stretched).toBeLessThanOrEqual(255);
    c[last] = stretched;
    expect(isoErrorOf(c)).toMatch(/directory "many\/d0": record at offset \d+ crosses a block boundary/);
  });

  it('SUSP continuation (CE) loop -> IsoError', () => {
    const b = image();
    const dir = b.readUInt32LE(findRecord(b, rootLba(b), 'DIR') + 2);
    const rec = findRecord(b, dir, 'NNNNNNNN.;1');
    const ce = findInRecord(b, rec, 'CE\u001c\u0001');
    // The continuation area is the CE entry itself: it continues into itself forever.
    setBoth32(b, ce + 4, Math.floor(ce / S));
    setBoth32(b, ce + 12, ce % S);
    setBoth32(b, ce + 20, 28);
    expect(isoErrorOf(b)).toMatch(/SUSP continuation loop at block \d+ offset \d+/);
  });

  it('CE area past the end, or not within one block -> IsoError', () => {
    const b = image();
    const dir = b.readUInt32LE(findRecord(b, rootLba(b), 'DIR') + 2);
    const ce = findInRecord(b, findRecord(b, dir, 'NNNNNNNN.;1'), 'CE\u001c\u0001');
    setBoth32(b, ce + 4, 0x7fffffff);
    expect(isoErrorOf(b)).toMatch(/CE area at block 2147483647 lies past the end/);
    setBoth32(b, ce + 4, 20);
    setBoth32(b, ce + 20, 1 << 30);
    expect(isoErrorOf(b)).toMatch(/not within one block/);
  });

  it('Rock Ridge names with "/" or ".." or duplicates -> IsoError', () => {
    const b = image();
    const dir = b.readUInt32LE(findRecord(b, rootLba(b), 'COMMON') + 2);
    const nm = findInRecord(b, findRecord(b, dir, 'NETWORK.;1'), 'NM');
    b.write('/', nm + 5 + 3, 'latin1'); // "net/ork"
    expect(isoErrorOf(b)).toMatch(/directory "common": invalid entry name "net\/ork"/);

    const d = writeIso([{ path: 'ab', data: Buffer.from('1') }, { path: 'cd', data: Buffer.from('2') }], { mtime: MTIME });
    const nm2 = findInRecord(d, findRecord(d, rootLba(d), 'AB.;1'), 'NM');
    d.write('..', nm2 + 5, 'latin1');
    expect(isoErrorOf(d)).toMatch(/invalid entry name "\.\."/);
    const e = writeIso([{ path: 'ab', data: Buffer.from('1') }, { path: 'cd', data: Buffer.from('2') }], { mtime: MTIME });
    e.write('ab', findInRecord(e, findRecord(e, rootLba(e), 'CD.;1'), 'NM') + 5, 'latin1');
    expect(isoErrorOf(e)).toMatch(/duplicate entry "ab"/);
  });
});

describe('limits', () => {
  it('maxEntries', () => {
    expect(isoErrorOf(writeIso(manyFiles(500), { mtime: MTIME }), { maxEntries: 100 })).toMatch(/more than 100 entries \(limit maxEntries\)/);
  });
  it('maxDepth', () => {
    expect(isoErrorOf(writeIso(awkwardFiles(), { mtime: MTIME }), { maxDepth: 5 })).toMatch(/deeper than 5 levels \(limit maxDepth\)/);
  });
  it('maxContinuations', () => {
    expect(isoErrorOf(image(), { maxContinuations: 0 })).toMatch(/more than 0 SUSP continuation areas \(limit maxContinuations\)/);
  });
  it('defaults read a 500-file, 12-level image fine', () => {
    const img = openIso(writeIso([...manyFiles(500), ...awkwardFiles()], { mtime: MTIME }));
    expect(readAllFiles(img).size).toBe(500 + awkwardFiles().length);
  });
});

describe('fuzz: random byte mutations of valid images never crash, hang or throw anything but IsoError', () => {
  const bases: [string, () => Buffer][] = [
    ['our Rock Ridge image', () => image([...contextFiles(), { path: 'x/y/z', data: Buffer.from('z') }])],
    [
      'genisoimage -J image',
      () => {
        const src = join(tmp.dir, 'fuzz-src');
        run('mkdir', ['-p', join(src, 'common')]);
        writeFileSync(join(src, 'common', 'network'), 'IP=1\n');
        writeFileSync(join(src, 'post-install'), '#!/bin/sh\n');
        const iso = join(tmp.dir, 'fuzz-j.iso');
        run('genisoimage', ['-quiet', '-J', '-o', iso, src]);
        return readFileSync(iso);
      },
    ],
  ];
  it.each(bases)('%s: 400 mutants', (_name, make) => {
    const base = make();
    const rnd = prng(1234);
    // Mutate the metadata region (descriptors, path tables, directories, CE areas): that is where parsers break.
    const metaEnd = Math.min(base.length, 48 * S);
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(base);
      const flips = 1 + Math.floor(rnd() * 24);
      for (let f = 0; f < flips; f++) {
        const at = 16 * S + Math.floor(rnd() * (metaEnd - 16 * S));
        b[at] = rnd() < 0.3 ? 0xff : Math.floor(rnd() * 256);
      }
      const t0 = performance.now();
      try {
        const img = openIso(b, { maxFileSize: 1 << 20 });
        readAllFiles(img);
        img.entries();
        readVolumeId(b);
        ok++;
      } catch (e) {
        if (!(e instanceof IsoError)) throw new Error(`mutant ${i} threw ${String(e)}`);
        expect((e as Error).message).not.toContain('\n');
        rejected++;
      }
      expect(performance.now() - t0).toBeLessThan(500);
    }
    // Both outcomes must occur, or the mutations are not reaching the parser.
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});

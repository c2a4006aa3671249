/**
 * Images made by independent writers (genisoimage, xorriso -as mkisofs) read by our reader: names,
 * types, sizes, modes, symlink targets, contents, volume id and naming mode must match the source tree.
 */
import { chmodSync, lutimesSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIso, readAllFiles, readVolumeId, type IsoImage } from '../../lib/iso9660/index.js';
import { DEEP_DIR, LONG_NAME, UNICODE_NAME, awkwardFiles, withSymlinks } from './fixtures.js';
import { readTree, run, tempDir, type DiskEntry } from './helpers.js';

const MTIME = new Date('2023-03-04T05:06:07Z');

let tmp: ReturnType<typeof tempDir>;
let src: string;
let disk: Map<string, DiskEntry>;

beforeAll(() => {
  tmp = tempDir();
  src = join(tmp.dir, 'src');
  // awkwardFiles minus the two 70-character names: their 64-character Joliet cuts collide, which
  // genisoimage refuses outright ("Joliet tree sort failed").
  const inputs = [...awkwardFiles().filter((f) => !f.path.includes('x'.repeat(70))), ...withSymlinks().filter((f) => !('data' in f) && f.path !== 'links/long')];
  // (links/long, a 323-byte target, is left out: genisoimage records long SL targets truncated.)
  const dirs = new Set<string>();
  for (const f of inputs) {
    const abs = join(src, f.path);
    mkdirSync(dirname(abs), { recursive: true });
    for (let d = dirname(f.path); d !== '.'; d = dirname(d)) dirs.add(d);
    if ('data' in f) {
      writeFileSync(abs, f.data);
      chmodSync(abs, f.mode ?? 0o644);
      utimesSync(abs, MTIME, MTIME);
    } else {
      symlinkSync(f.target, abs);
      lutimesSync(abs, MTIME, MTIME);
    }
  }
  for (const d of dirs) chmodSync(join(src, d), 0o755);
  disk = readTree(src);
});
afterAll(() => tmp.cleanup());

function make(name: string, cmd: string, args: string[]): string {
  const iso = join(tmp.dir, name);
  run(cmd, [...args, '-o', iso, src]);
  return iso;
}

function shapeOf(img: IsoImage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of img.entries()) out[e.path] = `${e.type} ${e.mode.toString(8)}${e.type === 'file' ? ` size=${e.size}` : ''}${e.target !== undefined ? ` -> ${e.target}` : ''}`;
  return out;
}

function diskShape(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, e] of disk) out[p] = `${e.type} ${e.mode.toString(8)}${e.type === 'file' ? ` size=${e.data!.length}` : ''}${e.target !== undefined ? ` -> ${e.target}` : ''}`;
  return out;
}

/** File by file (the tree has symlinks, which readAllFiles refuses as a context may not hold them). */
function expectContents(img: IsoImage, pathOf: (p: string) => string | undefined): void {
  let checked = 0;
  for (const [p, e] of disk) {
    if (e.type !== 'file') continue;
    const q = pathOf(p);
    if (q === undefined) continue;
    expect(img.readFile(q).equals(e.data!), `${p} content`).toBe(true);
    checked++;
  }
  expect(checked).toBeGreaterThan(10);
}

describe.each([
  { tool: 'genisoimage', args: ['-quiet', '-R', '-J'], label: undefined, defaultId: 'CDROM' },
  { tool: 'genisoimage', args: ['-quiet', '-R', '-J', '-V', 'CONTEXT'], label: 'CONTEXT', defaultId: 'CDROM' },
  { tool: 'xorriso', args: ['-as', 'mkisofs', '-quiet', '-R', '-J'], label: undefined, defaultId: 'ISOIMAGE' },
  { tool: 'xorriso', args: ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'cidata'], label: 'cidata', defaultId: 'ISOIMAGE' },
])('$tool $args: Rock Ridge image read by our reader', ({ tool, args, label, defaultId }) => {
  let iso: string;
  beforeAll(() => {
    iso = make(`${tool}-${label ?? 'nolabel'}.iso`, tool, args);
  });

  it('volume id (default or -V), cheaply and via openIso', () => {
    expect(readVolumeId(iso)).toBe(label ?? defaultId);
    const img = openIso(iso);
    expect(img.volumeId).toBe(label ?? defaultId);
    img.close();
  });

  it('every name, type, mode (0755 post-install), size and symlink target matches the source tree', () => {
    const img = openIso(iso);
    try {
      expect(img.naming).toBe('rockridge');
      expect(shapeOf(img)).toEqual(diskShape());
      expect(img.entries().find((e) => e.path === 'post-install')?.mode).toBe(0o755);
      expect(img.entries().find((e) => e.path === `names/${LONG_NAME}`)).toBeDefined();
      expect(img.entries().find((e) => e.path === `${DEEP_DIR}/bottom.txt`)?.mode).toBe(0o700);
      expect(img.entries().find((e) => e.path === 'common/network')?.mtime?.toISOString()).toBe(MTIME.toISOString());
    } finally {
      img.close();
    }
  });

  it('every file reads back byte-identical, from a path and from a Buffer', () => {
    const img = openIso(iso);
    expectContents(img, (p) => p);
    img.close();
    const mem = openIso(readFileSync(iso));
    expectContents(mem, (p) => p);
    mem.close();
  });

  it('readAllFiles (a context read) refuses the tree for its first symlink, naming path and target', () => {
    const img = openIso(iso);
    try {
      expect(() => readAllFiles(img)).toThrow(`ISO image ${JSON.stringify(iso)}: links/absolute: a symbolic link (-> /etc/hostname); a context holds regular files only`);
    } finally {
      img.close();
    }
  });
});

describe('genisoimage -J (Joliet only): read with Joliet names', () => {
  it('names up to 64 characters exact, unicode intact, default modes, contents identical', () => {
    const iso = make('joliet.iso', 'genisoimage', ['-quiet', '-J', '-joliet-long']);
    const img = openIso(iso);
    try {
      expect(img.naming).toBe('joliet');
      const byPath = new Map(img.entries().map((e) => [e.path, e]));
      expect(byPath.get('post-install')?.mode).toBe(0o444); // no permissions in Joliet
      expect(byPath.get('common')?.type).toBe('dir');
      expect(byPath.get(`names/${UNICODE_NAME}`)?.type).toBe('file');
      // Without Rock Ridge genisoimage drops directories nested deeper than ISO 9660 allows.
      expect(byPath.get('deep/l1/l2/l3/l4/l5/l6')?.type).toBe('dir');
      expect(byPath.has(`${DEEP_DIR}/bottom.txt`)).toBe(false);
      expectContents(img, (p) => (p.split('/').every((s) => s.length <= 64) && !p.startsWith('deep/') ? p : undefined));
    } finally {
      img.close();
    }
  });
});

describe('genisoimage without -R/-J: plain ISO 9660 names', () => {
  it('8.3 names, version and trailing dot stripped, lower-cased like Linux', () => {
    const plainSrc = join(tmp.dir, 'plain');
    mkdirSync(join(plainSrc, 'common'), { recursive: true });
    writeFileSync(join(plainSrc, 'common', 'network'), 'net\n');
    writeFileSync(join(plainSrc, 'common', 'routes.txt'), 'r\n');
    const iso = join(tmp.dir, 'plain.iso');
    run('genisoimage', ['-quiet', '-V', 'CONTEXT', '-o', iso, plainSrc]);
    const img = openIso(iso);
    try {
      expect(img.naming).toBe('iso9660');
      expect(img.volumeId).toBe('CONTEXT');
      expect(img.entries().map((e) => `${e.path}:${e.type}:${e.mode.toString(8)}`)).toEqual(['common:dir:555', 'common/network:file:444', 'common/routes.txt:file:444']);
      expect(img.readFile('common/network').toString()).toBe('net\n');
      expect(img.readFile('/common/routes.txt').toString()).toBe('r\n');
    } finally {
      img.close();
    }
  });
});

describe('genisoimage -z: zisofs-compressed files', () => {
  it('is refused with the reason, never read as garbage content (the agent then tries the kernel driver)', () => {
    const raw = join(tmp.dir, 'z-raw');
    const packed = join(tmp.dir, 'z-packed');
    mkdirSync(join(raw, 'common'), { recursive: true });
    // Compressible and larger than a zisofs block, so mkzftree really compresses it.
    writeFileSync(join(raw, 'common', 'network'), 'NAMESERVER=10.0.0.53\n'.repeat(4000));
    run('mkzftree', [raw, packed]);
    const iso = join(tmp.dir, 'z.iso');
    run('genisoimage', ['-quiet', '-R', '-J', '-z', '-V', 'CONTEXT', '-o', iso, packed]);
    // The medium is a well-formed image: only the compressed file is the problem.
    expect(readVolumeId(iso)).toBe('CONTEXT');
    expect(() => {
      const img = openIso(iso);
      try {
        readAllFiles(img);
      } finally {
        img.close();
      }
    }).toThrow(/"\/?common\/network": zisofs-compressed \(Rock Ridge ZF entry\)/);
  });
});

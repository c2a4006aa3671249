/**
 * ISO 9660 reader for untrusted images: lists and reads files from an image file, a Buffer or a block
 * device, without mounting. Names come from Rock Ridge when present, else Joliet, else the plain ISO
 * names (";1" and a trailing dot stripped, lower-cased like Linux's default map=normal).
 *
 * Hostile images are expected: every extent is bounds-checked, directories are visited once (loops),
 * depth, entry count, directory bytes, SUSP continuation chains and file sizes are all capped, and every
 * violation is an IsoError naming what was wrong. Memory is bounded by the limits, not by the image.
 */
import { IsoError } from './errors.js';
import {
  FIRST_DESCRIPTOR_SECTOR,
  FLAG_ASSOCIATED,
  FLAG_DIRECTORY,
  FLAG_MULTI_EXTENT,
  JOLIET_ESCAPES,
  SECTOR,
  STANDARD_ID,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFSOCK,
  S_IFMT,
  S_IFREG,
  VD,
  VD_PRIMARY,
  VD_SUPPLEMENTARY,
  VD_TERMINATOR,
  decodeDate7,
  decodeUcs2Be,
} from './format.js';
import { openSource, type ByteSource } from './source.js';
import { CONTEXT_READ_LIMITS, limitWhy } from '../context/limits.js';
import { notRegularWhy, type NonRegular } from '../context/rules.js';

export { IsoError } from './errors.js';

export interface IsoLimits {
  /** Largest file readFile will return (default: a context's largest file, 16 MiB). */
  maxFileSize: number;
  /** Most directory records (files, dirs, symlinks) in the image (default 10000): bounds the listing. */
  maxEntries: number;
  /** Most regular files readAllFiles returns (default: a context's 1024). */
  maxFiles: number;
  /** Deepest directory nesting (default: a context's 16). */
  maxDepth: number;
  /** Total bytes of directory extents and SUSP continuation areas read while listing (default 16 MiB). */
  maxDirectoryBytes: number;
  /** Longest chain of SUSP continuation areas (CE) for one record (default 32, as Linux). */
  maxContinuations: number;
  /** Total bytes readAllFiles may return (default: a context's 64 MiB). */
  maxTotalSize: number;
}

/** The context limits (lib/context/limits.ts CONTEXT_READ_LIMITS), plus bounds of the ISO structure itself. */
export const DEFAULT_ISO_LIMITS: Readonly<IsoLimits> = Object.freeze({
  maxFileSize: CONTEXT_READ_LIMITS.otherFileBytes,
  maxEntries: 10_000,
  maxFiles: CONTEXT_READ_LIMITS.files,
  maxDepth: CONTEXT_READ_LIMITS.depth,
  maxDirectoryBytes: 16 * 1024 * 1024,
  maxContinuations: 32,
  maxTotalSize: CONTEXT_READ_LIMITS.totalBytes,
});

export interface IsoEntry {
  /** Relative POSIX path, e.g. 'common/network'. */
  path: string;
  /** 'special': a Rock Ridge device node, FIFO or socket (see `special`); listed so it can be refused, never read. */
  type: 'file' | 'dir' | 'symlink' | 'special';
  /** Data length in bytes (0 for symlinks and special files; the directory extent size for directories). */
  size: number;
  /** Permission bits only (no file type): Rock Ridge PX when present, else 0o444 files / 0o555 dirs. */
  mode: number;
  mtime?: Date;
  target?: string;
  special?: 'device' | 'fifo' | 'socket';
  /** Rock Ridge PX link count of a regular file, when above 1 (a hard link). */
  links?: number;
}

export interface IsoImage {
  /** How messages name the image: 'ISO image "/dev/sr0"' (or 'ISO image' for a Buffer). */
  label: string;
  limits: Readonly<IsoLimits>;
  volumeId: string;
  naming: 'rockridge' | 'joliet' | 'iso9660';
  entries(): IsoEntry[];
  readFile(path: string): Buffer;
  close(): void;
}

interface Extent {
  lba: number;
  size: number;
}

interface Stored {
  entry: IsoEntry;
  extents: Extent[];
}

/** What one directory record says, after Rock Ridge is applied. */
interface RawRecord {
  isoName: Buffer;
  flags: number;
  extent: Extent;
  recorded?: Date;
  rr?: RockRidge;
}

interface RockRidge {
  name?: string;
  mode?: number;
  nlink?: number;
  mtime?: Date;
  target?: string;
  /** CL: this record stands for a directory relocated to this LBA. */
  childLink?: number;
  /** RE: this directory was relocated here; list it only through its CL. */
  relocated?: boolean;
}

interface Volume {
  root: Extent;
  joliet?: Extent;
  volumeId: string;
  /** Upper bound on byte offsets: the known image size, else the volume space size. */
  limit: number;
}

function trimId(s: string): string {
  return s.replace(/[\s\u0000]+$/u, '');
}

function readVolume(src: ByteSource): Volume {
  const label = src.name === '<buffer>' ? 'ISO image' : `ISO image ${JSON.stringify(src.name)}`;
  if (src.size !== undefined && src.size < (FIRST_DESCRIPTOR_SECTOR + 1) * SECTOR) {
    throw new IsoError(`${label}: ${src.size} bytes is too small to hold ISO 9660 volume descriptors`);
  }
  let pvd: Buffer | undefined;
  let svd: Buffer | undefined;
  // A real image has a handful of descriptors; 64 bounds a hostile one that never terminates.
  for (let i = 0; i < 64; i++) {
    const sector = FIRST_DESCRIPTOR_SECTOR + i;
    if (src.size !== undefined && (sector + 1) * SECTOR > src.size) throw new IsoError(`${label}: volume descriptors run past the end (no terminator)`);
    const d = src.read(sector * SECTOR, SECTOR);
    if (d.toString('latin1', 1, 6) !== STANDARD_ID) {
      if (i === 0) throw new IsoError(`${label}: not ISO 9660 (no CD001 signature at sector 16)`);
      throw new IsoError(`${label}: bad volume descriptor at sector ${sector} (no CD001 signature)`);
    }
    const type = d[0];
    if (type === VD_TERMINATOR) break;
    if (type === VD_PRIMARY && !pvd) pvd = Buffer.from(d);
    if (type === VD_SUPPLEMENTARY && !svd && JOLIET_ESCAPES.includes(d.toString('latin1', VD.escapes, VD.escapes + 3))) svd = Buffer.from(d);
    if (i === 63) throw new IsoError(`${label}: more than 64 volume descriptors without a terminator`);
  }
  if (!pvd) throw new IsoError(`${label}: no primary volume descriptor`);
  const blockSize = pvd.readUInt16LE(VD.blockSize);
  if (blockSize !== SECTOR) throw new IsoError(`${label}: logical block size ${blockSize} is not supported (only 2048)`);
  const spaceBytes = pvd.readUInt32LE(VD.spaceSize) * SECTOR;
  if (src.size !== undefined && spaceBytes > src.size) {
    throw new IsoError(`${label}: truncated (volume claims ${spaceBytes} bytes, image has ${src.size})`);
  }
  const limit = src.size ?? spaceBytes;
  const rootOf = (d: Buffer, what: string): Extent => {
    const r = VD.rootRecord;
    if (d[r]! < 34 || !(d[r + 25]! & FLAG_DIRECTORY)) throw new IsoError(`${label}: ${what} root directory record is invalid`);
    return { lba: d.readUInt32LE(r + 2), size: d.readUInt32LE(r + 10) };
  };
  return {
    root: rootOf(pvd, 'primary'),
    joliet: svd ? rootOf(svd, 'Joliet') : undefined,
    volumeId: trimId(pvd.toString('latin1', VD.volumeId, VD.volumeId + 32)),
    limit,
  };
}

/** Parse a 7-byte or 17-byte (long form) timestamp from a TF entry. */
function decodeDate17(b: Buffer, off: number): Date | undefined {
  const s = b.toString('latin1', off, off + 16);
  if (!/^\d{16}$/.test(s) || s === '0000000000000000') return undefined;
  const tz = (b[off + 16]! << 24) >> 24;
  const ms =
    Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14), +s.slice(14, 16) * 10) -
    tz * 15 * 60_000;
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

class Walker {
  readonly byPath = new Map<string, Stored>();
  private readonly visited = new Set<number>();
  private directoryBytes = 0;
  private count = 0;
  private lenSkp = 0;
  private sawRelocation = false;
  readonly naming: IsoImage['naming'];

  constructor(
    private readonly src: ByteSource,
    private readonly vol: Volume,
    private readonly limits: IsoLimits,
  ) {
    const rootDot = this.readDirectory(vol.root, '/').subarray(0, SECTOR);
    const sp = this.findSP(rootDot);
    if (sp !== undefined) {
      this.lenSkp = sp;
      this.naming = 'rockridge';
    } else this.naming = vol.joliet ? 'joliet' : 'iso9660';
    this.visited.clear();
    this.directoryBytes = 0;
  }

  private where(): string {
    return this.src.name === '<buffer>' ? 'ISO image' : `ISO image ${JSON.stringify(this.src.name)}`;
  }

  private fail(why: string): never {
    throw new IsoError(`${this.where()}: ${why}`);
  }

  private checkExtent(e: Extent, what: string): void {
    const end = e.lba * SECTOR + e.size;
    if (e.lba * SECTOR > this.vol.limit || end > this.vol.limit) {
      this.fail(`${what}: extent at block ${e.lba} (${e.size} bytes) lies past the end of the image (${this.vol.limit} bytes)`);
    }
  }

  private readDirectory(e: Extent, path: string): Buffer {
    if (e.size < 34) this.fail(`directory ${JSON.stringify(path)}: extent size ${e.size} is invalid`);
    this.checkExtent(e, `directory ${JSON.stringify(path)}`);
    this.directoryBytes += e.size;
    if (this.directoryBytes > this.limits.maxDirectoryBytes) {
      this.fail(`directory data exceeds ${this.limits.maxDirectoryBytes} bytes (limit maxDirectoryBytes) at ${JSON.stringify(path)}`);
    }
    return this.src.read(e.lba * SECTOR, e.size);
  }

  /** SP entry at the start of the root's '.' system use area means Rock Ridge; returns its LEN_SKP. */
  private findSP(dirSector: Buffer): number | undefined {
    const len = dirSector[0]!;
    if (len < 34) return undefined;
    const idLen = dirSector[32]!;
    const su = 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
    if (su + 7 > len) return undefined;
    if (dirSector.toString('latin1', su, su + 2) !== 'SP' || dirSector[su + 2]! < 7 || dirSector[su + 4] !== 0xbe || dirSector[su + 5] !== 0xef) return undefined;
    return dirSector[su + 6]!;
  }

  /** Walk the SUSP entries of one record, following CE continuation areas (bounded). */
  private parseSusp(area: Buffer, path: string): RockRidge {
    const rr: RockRidge = {};
    const nameParts: Buffer[] = [];
    const linkParts: string[] = [];
    let linkComponent = '';
    let linkComponentOpen = false;
    let linkDone = false;
    let nameDone = false;
    let compressed = false;
    let buf: Buffer | undefined = area;
    const seen = new Set<string>();
    let hops = 0;
    while (buf) {
      let next: Buffer | undefined;
      let p = 0;
      while (p + 4 <= buf.length) {
        const sig = buf.toString('latin1', p, p + 2);
        const len = buf[p + 2]!;
        if (len < 4) break; // padding
        if (p + len > buf.length) this.fail(`${JSON.stringify(path)}: system use entry ${JSON.stringify(sig)} overruns its area`);
        const e = buf.subarray(p, p + len);
        switch (sig) {
          case 'ST':
            p = buf.length;
            continue;
          case 'CE': {
            if (len < 28) this.fail(`${JSON.stringify(path)}: CE entry too short`);
            const lba = e.readUInt32LE(4);
            const off = e.readUInt32LE(12);
            const ceLen = e.readUInt32LE(20);
            const key = `${lba}:${off}`;
            if (++hops > this.limits.maxContinuations) this.fail(`${JSON.stringify(path)}: more than ${this.limits.maxContinuations} SUSP continuation areas (limit maxContinuations)`);
            if (seen.has(key)) this.fail(`${JSON.stringify(path)}: SUSP continuation loop at block ${lba} offset ${off}`);
            seen.add(key);
            if (off >= SECTOR || ceLen > SECTOR) this.fail(`${JSON.stringify(path)}: CE area (offset ${off}, ${ceLen} bytes) is not within one block`);
            const start = lba * SECTOR + off;
            if (start + ceLen > this.vol.limit) this.fail(`${JSON.stringify(path)}: CE area at block ${lba} lies past the end of the image`);
            this.directoryBytes += ceLen;
            if (this.directoryBytes > this.limits.maxDirectoryBytes) this.fail(`directory data exceeds ${this.limits.maxDirectoryBytes} bytes (limit maxDirectoryBytes)`);
            next = this.src.read(start, ceLen);
            break;
          }
          case 'NM':
            if (len >= 5 && !nameDone) {
              const flags = e[4]!;
              if (flags & 0x06) {
                // CURRENT/PARENT names are only meaningful on '.'/'..'; ignore on others.
              } else nameParts.push(Buffer.from(e.subarray(5)));
              if (!(flags & 0x01)) nameDone = true;
            }
            break;
          case 'PX':
            if (len >= 36) {
              rr.mode = e.readUInt32LE(4);
              rr.nlink = e.readUInt32LE(12);
            }
            break;
          case 'TF':
            if (len >= 5) rr.mtime = this.parseTF(e) ?? rr.mtime;
            break;
          case 'SL':
            if (len >= 5 && !linkDone) {
              let q = 5;
              while (q + 2 <= e.length) {
                const cf = e[q]!;
                // genisoimage writes the last SL entry of long targets one byte short; clip like other readers.
                const cl = Math.min(e[q + 1]!, e.length - q - 2);
                let text: string;
                if (cf & 0x02) text = '.';
                else if (cf & 0x04) text = '..';
                else if (cf & 0x08) text = '';
                else text = e.toString('utf8', q + 2, q + 2 + cl);
                linkComponent += text;
                if (cf & 0x08) linkParts.push(''), (linkComponent = '');
                else if (!(cf & 0x01)) linkParts.push(linkComponent), (linkComponent = '');
                linkComponentOpen = (cf & 0x01) !== 0;
                q += 2 + cl;
              }
              if (!(e[4]! & 0x01)) linkDone = true;
            }
            break;
          case 'CL':
            if (len >= 12) rr.childLink = e.readUInt32LE(4);
            break;
          case 'RE':
            rr.relocated = true;
            break;
          case 'ZF':
            // zisofs: the extent holds compressed blocks. Read as is it would be garbage taken for the
            // file's content, so the image is refused below (the agent then tries the kernel's driver).
            compressed = true;
            break;
          default:
            break; // SP, RR, ER, PN, PL, AL...: not needed to list and read
        }
        p += len;
      }
      buf = next;
    }
    if (linkComponentOpen && linkComponent) linkParts.push(linkComponent);
    if (nameParts.length > 0) rr.name = Buffer.concat(nameParts).toString('utf8');
    if (compressed) {
      const shown = rr.name === undefined ? path : `${path.slice(0, path.lastIndexOf('/') + 1)}${rr.name}`;
      this.fail(`${JSON.stringify(shown)}: zisofs-compressed (Rock Ridge ZF entry); this reader does not decompress zisofs`);
    }
    if (linkParts.length > 0) {
      // A leading ROOT component is '' so joining yields "/a/b".
      rr.target = linkParts.length === 1 && linkParts[0] === '' ? '/' : linkParts.join('/');
    }
    return rr;
  }

  private parseTF(e: Buffer): Date | undefined {
    const flags = e[4]!;
    const long = (flags & 0x80) !== 0;
    const size = long ? 17 : 7;
    let off = 5;
    if (flags & 0x01) off += size; // creation comes first
    if (!(flags & 0x02) || off + size > e.length) return undefined;
    return long ? decodeDate17(e, off) : decodeDate7(e, off);
  }

  private parseRecords(dir: Buffer, path: string, joliet: boolean): RawRecord[] {
    const out: RawRecord[] = [];
    let p = 0;
    let index = 0;
    while (p < dir.length) {
      const len = dir[p]!;
      if (len === 0) {
        p = (Math.floor(p / SECTOR) + 1) * SECTOR; // rest of the sector is padding
        continue;
      }
      if (len < 34) this.fail(`directory ${JSON.stringify(path)}: record at offset ${p} is ${len} bytes (minimum 34)`);
      if ((p % SECTOR) + len > SECTOR || p + len > dir.length) this.fail(`directory ${JSON.stringify(path)}: record at offset ${p} crosses a block boundary`);
      const r = dir.subarray(p, p + len);
      const idLen = r[32]!;
      if (idLen === 0 || 33 + idLen > len) this.fail(`directory ${JSON.stringify(path)}: record at offset ${p} has a bad identifier length ${idLen}`);
      const isoName = r.subarray(33, 33 + idLen);
      const rec: RawRecord = {
        isoName,
        flags: r[25]!,
        extent: { lba: r.readUInt32LE(2), size: r.readUInt32LE(10) },
        recorded: decodeDate7(r, 18),
      };
      const dotOrDotDot = idLen === 1 && (isoName[0] === 0 || isoName[0] === 1);
      if (!dotOrDotDot || index >= 2) {
        if (this.naming === 'rockridge' && !joliet) {
          const suStart = 33 + idLen + (idLen % 2 === 0 ? 1 : 0) + this.lenSkp;
          if (suStart < len) rec.rr = this.parseSusp(r.subarray(suStart, len), `${path === '/' ? '' : path}/${isoName.toString('latin1')}`);
        }
        out.push(rec);
      }
      index++;
      p += len;
    }
    return out;
  }

  private nameOf(rec: RawRecord, joliet: boolean, path: string): string {
    let name: string;
    if (rec.rr?.name !== undefined) name = rec.rr.name;
    else if (joliet) name = decodeUcs2Be(rec.isoName).replace(/;\d*$/, '');
    else {
      name = rec.isoName.toString('latin1').replace(/;\d*$/, '');
      if (name.endsWith('.')) name = name.slice(0, -1);
      name = name.toLowerCase();
    }
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\u0000')) {
      this.fail(`directory ${JSON.stringify(path)}: invalid entry name ${JSON.stringify(name)}`);
    }
    return name;
  }

  walk(): void {
    const joliet = this.naming === 'joliet';
    const rootExtent = joliet ? this.vol.joliet! : this.vol.root;
    const stack: { extent: Extent; path: string; depth: number }[] = [{ extent: rootExtent, path: '', depth: 0 }];
    while (stack.length > 0) {
      const { extent, path, depth } = stack.pop()!;
      const shown = path === '' ? '/' : path;
      if (this.visited.has(extent.lba)) this.fail(`directory loop: ${JSON.stringify(shown)} points back at block ${extent.lba}`);
      this.visited.add(extent.lba);
      const dir = this.readDirectory(extent, shown);
      const pending: Extent[] = [];
      for (const rec of this.parseRecords(dir, shown, joliet)) {
        if (rec.flags & FLAG_ASSOCIATED) continue;
        if (rec.rr?.relocated) {
          this.sawRelocation = true;
          continue; // shown where its CL record stands
        }
        if (++this.count > this.limits.maxEntries) this.fail(`more than ${this.limits.maxEntries} entries (limit maxEntries)`);
        if (rec.flags & FLAG_MULTI_EXTENT) {
          // A file in several extents: the records share one name and all but the last carry this flag.
          if (pending.length >= 1024) this.fail(`${JSON.stringify(shown)}: more than 1024 extents for one file`);
          this.checkExtent(rec.extent, `file in ${JSON.stringify(shown)}`);
          pending.push(rec.extent);
          continue;
        }
        const name = this.nameOf(rec, joliet, shown);
        const full = path === '' ? name : `${path}/${name}`;
        if (this.byPath.has(full)) this.fail(`duplicate entry ${JSON.stringify(full)}`);
        const rrMode = rec.rr?.mode;
        const isDir = (rec.flags & FLAG_DIRECTORY) !== 0 || rec.rr?.childLink !== undefined;
        const mtime = rec.rr?.mtime ?? rec.recorded;
        if (isDir) {
          if (pending.length > 0) this.fail(`${JSON.stringify(full)}: directory marked multi-extent`);
          if (depth + 1 > this.limits.maxDepth) this.fail(`${JSON.stringify(full)}: deeper than ${this.limits.maxDepth} levels (limit maxDepth)`);
          let ext = rec.extent;
          if (rec.rr?.childLink !== undefined) ext = this.relocatedExtent(rec.rr.childLink, full);
          this.byPath.set(full, { entry: { path: full, type: 'dir', size: ext.size, mode: rrMode !== undefined ? rrMode & 0o7777 : 0o555, mtime }, extents: [] });
          stack.push({ extent: ext, path: full, depth: depth + 1 });
          continue;
        }
        if (rrMode !== undefined && (rrMode & S_IFMT) === S_IFLNK) {
          if (rec.rr?.target === undefined) this.fail(`${JSON.stringify(full)}: symlink without an SL target`);
          this.byPath.set(full, { entry: { path: full, type: 'symlink', size: 0, mode: rrMode & 0o7777, mtime, target: rec.rr.target }, extents: [] });
          pending.length = 0;
          continue;
        }
        if (rrMode !== undefined && (rrMode & S_IFMT) !== S_IFREG && (rrMode & S_IFMT) !== 0 && (rrMode & S_IFMT) !== S_IFDIR) {
          // Device nodes, FIFOs, sockets: nothing to read; listed (never as files) so readAllFiles can refuse them.
          const fmt = rrMode & S_IFMT;
          const special = fmt === S_IFIFO ? 'fifo' : fmt === S_IFSOCK ? 'socket' : 'device';
          this.byPath.set(full, { entry: { path: full, type: 'special', size: 0, mode: rrMode & 0o7777, mtime, special }, extents: [] });
          pending.length = 0;
          continue;
        }
        this.checkExtent(rec.extent, `file ${JSON.stringify(full)}`);
        const extents = [...pending, rec.extent];
        pending.length = 0;
        const size = extents.reduce((s, e) => s + e.size, 0);
        const entry: IsoEntry = { path: full, type: 'file', size, mode: rrMode !== undefined ? rrMode & 0o7777 : 0o444, mtime };
        if (rec.rr?.nlink !== undefined && rec.rr.nlink > 1) entry.links = rec.rr.nlink;
        this.byPath.set(full, { entry, extents });
      }
    }
    // mkisofs's deep-directory relocation leaves an empty "rr_moved" at the root: an artefact, not content.
    if (this.sawRelocation) {
      const moved = this.byPath.get('rr_moved');
      const hasChildren = [...this.byPath.keys()].some((k) => k.startsWith('rr_moved/'));
      if (moved?.entry.type === 'dir' && !hasChildren) this.byPath.delete('rr_moved');
    }
  }

  /** A CL record points at a relocated directory; its size is in that directory's own '.' record. */
  private relocatedExtent(lba: number, path: string): Extent {
    this.checkExtent({ lba, size: SECTOR }, `relocated directory ${JSON.stringify(path)}`);
    const first = this.src.read(lba * SECTOR, SECTOR);
    if (first[0]! < 34 || !(first[25]! & FLAG_DIRECTORY)) this.fail(`relocated directory ${JSON.stringify(path)}: no '.' record at block ${lba}`);
    return { lba, size: first.readUInt32LE(10) };
  }
}

function normalisePath(p: string): string {
  return p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

/** Open an image (path to a file or block device, or a Buffer) and list it; throws IsoError on anything malformed. */
export function openIso(source: string | Buffer, limits: Partial<IsoLimits> = {}): IsoImage {
  const lim: IsoLimits = { ...DEFAULT_ISO_LIMITS, ...limits };
  const src = openSource(source);
  try {
    const vol = readVolume(src);
    const walker = new Walker(src, vol, lim);
    walker.walk();
    const stored = walker.byPath;
    const sorted = [...stored.values()].map((s) => s.entry).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const image: IsoImage = {
      label: src.name === '<buffer>' ? 'ISO image' : `ISO image ${JSON.stringify(src.name)}`,
      limits: lim,
      volumeId: vol.volumeId,
      naming: walker.naming,
      entries: () => sorted.map((e) => ({ ...e })),
      readFile(path: string): Buffer {
        const key = normalisePath(path);
        const s = stored.get(key);
        if (!s) throw new IsoError(`ISO entry ${JSON.stringify(path)}: not found`);
        if (s.entry.type !== 'file') throw new IsoError(`ISO entry ${JSON.stringify(path)}: is a ${s.entry.type === 'dir' ? 'directory' : s.entry.type === 'symlink' ? 'symlink' : s.entry.special}, not a file`);
        if (s.entry.size > lim.maxFileSize) throw new IsoError(`ISO entry ${JSON.stringify(path)}: ${s.entry.size} bytes exceeds ${lim.maxFileSize} (limit maxFileSize)`);
        if (s.extents.length === 1) return Buffer.from(src.read(s.extents[0]!.lba * SECTOR, s.extents[0]!.size));
        return Buffer.concat(s.extents.map((e) => src.read(e.lba * SECTOR, e.size)));
      },
      close: () => src.close(),
    };
    return image;
  } catch (e) {
    src.close();
    throw e;
  }
}

/** Cheap label probe: reads only sector 16. Undefined when that is not an ISO 9660 primary descriptor. */
export function readVolumeId(source: string | Buffer): string | undefined {
  let src: ByteSource;
  try {
    src = openSource(source);
  } catch (e) {
    if (e instanceof IsoError && /ENOMEDIUM/.test(e.message)) return undefined;
    throw e;
  }
  try {
    const at = FIRST_DESCRIPTOR_SECTOR * SECTOR;
    if (src.size !== undefined && src.size < at + SECTOR) return undefined;
    let d: Buffer;
    try {
      d = src.read(at, SECTOR);
    } catch {
      return undefined;
    }
    if (d[0] !== VD_PRIMARY || d.toString('latin1', 1, 6) !== STANDARD_ID) return undefined;
    return trimId(d.toString('latin1', VD.volumeId, VD.volumeId + 32));
  } finally {
    src.close();
  }
}

/** Why an entry may not be in a context (the rule readContextDir applies to a directory), or undefined. */
function nonRegular(e: IsoEntry): NonRegular | undefined {
  if (e.type === 'symlink') return { kind: 'symlink', target: e.target ?? '?' };
  if (e.type === 'special') return { kind: e.special ?? 'device' };
  if (e.type === 'file' && e.links !== undefined) return { kind: 'hardlink', links: e.links };
  return undefined;
}

/**
 * A context off an image: every regular file, by relative path. Refuses, before reading any data,
 * a symlink, hard link, device node, FIFO or socket anywhere (as the mount path's readContextDir
 * does: one CD, one context), more than maxFiles files and more than maxTotalSize bytes.
 */
export function readAllFiles(img: IsoImage): Map<string, Buffer> {
  const lim = img.limits;
  const entries = img.entries();
  for (const e of entries) {
    const odd = nonRegular(e);
    if (odd) throw new IsoError(`${img.label}: ${e.path}: ${notRegularWhy(odd)}`);
  }
  const files = entries.filter((e) => e.type === 'file');
  const limits = { ...CONTEXT_READ_LIMITS, files: lim.maxFiles, totalBytes: lim.maxTotalSize };
  if (files.length > lim.maxFiles) throw new IsoError(`${img.label}: ${limitWhy.files(limits)}`);
  const total = files.reduce((n, e) => n + e.size, 0);
  if (total > lim.maxTotalSize) throw new IsoError(`${img.label}: ${limitWhy.totalBytes(limits)}`);
  return new Map(files.map((e) => [e.path, img.readFile(e.path)]));
}

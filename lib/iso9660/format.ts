/**
 * ECMA-119 / SUSP / RRIP constants and the small field encoders shared by the writer and the reader.
 * Multi-byte numbers in ISO 9660 are usually "both-endian": the little-endian copy then the big-endian one.
 */

export const SECTOR = 2048;
/** Sectors 0-15 are the system area; volume descriptors start at sector 16. */
export const FIRST_DESCRIPTOR_SECTOR = 16;

export const VD_PRIMARY = 1;
export const VD_SUPPLEMENTARY = 2;
export const VD_TERMINATOR = 255;
export const STANDARD_ID = 'CD001';

/** Offsets inside a volume descriptor (ECMA-119 8.4). */
export const VD = {
  type: 0,
  standardId: 1,
  version: 6,
  flags: 7,
  systemId: 8,
  volumeId: 40,
  spaceSize: 80,
  escapes: 88,
  setSize: 120,
  sequence: 124,
  blockSize: 128,
  pathTableSize: 132,
  pathTableL: 140,
  pathTableM: 148,
  rootRecord: 156,
  volumeSetId: 190,
  publisherId: 318,
  preparerId: 446,
  applicationId: 574,
  copyrightId: 702,
  abstractId: 739,
  biblioId: 776,
  created: 813,
  modified: 830,
  expires: 847,
  effective: 864,
  structureVersion: 881,
} as const;

/** Directory record flags (ECMA-119 9.1.6). */
export const FLAG_HIDDEN = 0x01;
export const FLAG_DIRECTORY = 0x02;
export const FLAG_ASSOCIATED = 0x04;
export const FLAG_MULTI_EXTENT = 0x80;

/** Joliet UCS-2 level 3 escape sequence in the SVD "escape sequences" field. */
export const JOLIET_ESCAPES = ['%/@', '%/C', '%/E'];

/** POSIX file type bits used in Rock Ridge PX. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

/** RRIP 1.10 extension identification, as registered (recorded in the ER entry of the root). */
export const RRIP_ID = 'RRIP_1991A';
export const RRIP_DESCRIPTOR = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS';
export const RRIP_SOURCE =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.';

export function writeBoth32(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v, off);
  b.writeUInt32BE(v, off + 4);
}

export function writeBoth16(b: Buffer, off: number, v: number): void {
  b.writeUInt16LE(v, off);
  b.writeUInt16BE(v, off + 2);
}

const MIN_YEAR = 1900;
const MAX_YEAR = 2155; // the 7-byte form stores year-1900 in one byte

function clampDate(d: Date): Date {
  const t = d.getTime();
  if (Number.isNaN(t)) return new Date(Date.UTC(MIN_YEAR, 0, 1));
  const lo = Date.UTC(MIN_YEAR, 0, 1);
  const hi = Date.UTC(MAX_YEAR, 11, 31, 23, 59, 59);
  return new Date(Math.min(Math.max(t, lo), hi));
}

/** 7-byte recording date (ECMA-119 9.1.5), always UTC (offset 0) so images do not depend on the host TZ. */
export function encodeDate7(d: Date, out: Buffer, off: number): void {
  const c = clampDate(d);
  out[off] = c.getUTCFullYear() - 1900;
  out[off + 1] = c.getUTCMonth() + 1;
  out[off + 2] = c.getUTCDate();
  out[off + 3] = c.getUTCHours();
  out[off + 4] = c.getUTCMinutes();
  out[off + 5] = c.getUTCSeconds();
  out[off + 6] = 0;
}

/** Decode a 7-byte date; undefined when unset (all zero) or nonsensical. */
export function decodeDate7(b: Buffer, off: number): Date | undefined {
  const year = b[off]!;
  const month = b[off + 1]!;
  const day = b[off + 2]!;
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const tz = (b[off + 6]! << 24) >> 24; // signed, 15-minute units east of UTC
  const ms = Date.UTC(1900 + year, month - 1, day, b[off + 3]!, b[off + 4]!, b[off + 5]!) - tz * 15 * 60_000;
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** 17-byte volume descriptor date (ECMA-119 8.4.26.1): "YYYYMMDDHHMMSScc" + offset byte. */
export function encodeDate17(d: Date | undefined, out: Buffer, off: number): void {
  if (!d) {
    out.write('0000000000000000', off, 'latin1');
    out[off + 16] = 0;
    return;
  }
  const c = clampDate(d);
  const p = (n: number, w: number) => String(n).padStart(w, '0');
  const s =
    p(c.getUTCFullYear(), 4) +
    p(c.getUTCMonth() + 1, 2) +
    p(c.getUTCDate(), 2) +
    p(c.getUTCHours(), 2) +
    p(c.getUTCMinutes(), 2) +
    p(c.getUTCSeconds(), 2) +
    p(Math.floor(c.getUTCMilliseconds() / 10), 2);
  out.write(s, off, 'latin1');
  out[off + 16] = 0;
}

/** UTF-16 big-endian bytes (Joliet's "UCS-2"). */
export function encodeUcs2Be(s: string): Buffer {
  const b = Buffer.from(s, 'utf16le');
  b.swap16();
  return b;
}

export function decodeUcs2Be(b: Buffer): string {
  const even = b.length & ~1;
  const c = Buffer.from(b.subarray(0, even));
  c.swap16();
  return c.toString('utf16le');
}

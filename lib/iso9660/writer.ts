/**
 * ISO 9660 image writer: ECMA-119 primary hierarchy with Rock Ridge (SUSP/RRIP 1.10) plus a Joliet
 * supplementary hierarchy, built in one pre-sized Buffer. Pure: no I/O except `collectDirectory`.
 *
 * Naming choices (mirrors `genisoimage -R -J`):
 * - Primary (ISO 9660) names are level-1 8.3 names, upper-cased, mapped to d-characters and made unique
 *   per directory ("post-install" -> "POST_INS.;1"). Every real reader prefers Rock Ridge or Joliet.
 * - Rock Ridge NM carries the exact POSIX name (up to 255 bytes, split over continuation areas as needed),
 *   PX the mode/nlink/uid/gid, TF the timestamps, SL symlink targets.
 * - Joliet names are UTF-16BE, at most 64 code units (the Joliet limit). Longer names are shortened
 *   keeping their extension and made unique with "~N"; Joliet-only readers see the shortened name.
 *   Joliet carries no permissions and no symlinks (symlinks are left out of the Joliet tree).
 * - Deep trees are written as they are (no "rr_moved" relocation, like `genisoimage -D`): ECMA-119
 *   strictly allows 8 levels, but Linux, xorriso, isoinfo and 7z all read deeper trees.
 * - Timestamps are UTC. `opts.mtime` fixes every timestamp; else SOURCE_DATE_EPOCH fixes the volume
 *   dates and clamps file times (reproducible-builds convention); else file mtimes (default: now).
 */
import { DEFAULT_VOLUME_LABEL } from '../context/model.js';
import { hasForbiddenOrTab } from '../context/rules.js';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { IsoError } from './errors.js';
import {
  FLAG_DIRECTORY,
  JOLIET_ESCAPES,
  RRIP_DESCRIPTOR,
  RRIP_ID,
  RRIP_SOURCE,
  SECTOR,
  STANDARD_ID,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  VD,
  VD_PRIMARY,
  VD_SUPPLEMENTARY,
  VD_TERMINATOR,
  encodeDate17,
  encodeDate7,
  encodeUcs2Be,
  writeBoth16,
  writeBoth32,
} from './format.js';

export interface IsoInputFile {
  /** Relative POSIX path, e.g. 'common/network'. */
  path: string;
  data: Buffer;
  /** Permission bits, default 0o644. */
  mode?: number;
  mtime?: Date;
}

export interface IsoInputSymlink {
  path: string;
  target: string;
}

export interface WriteIsoOptions {
  /** Volume label, default 'CONTEXT'. 1-32 of A-Z a-z 0-9 _ . - (lower case allowed for labels like 'cidata'). */
  volumeId?: string;
  /** Fixes every timestamp in the image (determinism). */
  mtime?: Date;
  /** Symlinks are refused unless 'preserve' (then written as Rock Ridge SL). */
  symlinks?: 'refuse' | 'preserve';
  /** System identifier (a-characters, <= 32), default 'LINUX'. */
  systemId?: string;
  /** Publisher identifier (a-characters, <= 128). */
  publisher?: string;
}

/** The label the agent looks for by default (one definition, in the context model). */
export const DEFAULT_ISO_VOLUME_ID = DEFAULT_VOLUME_LABEL;
const APPLICATION_ID = 'CONTEXTGEN ISO9660 WRITER';
const DIR_MODE = 0o755;
const DEFAULT_FILE_MODE = 0o644;
const MAX_NAME_BYTES = 255;
const MAX_SYMLINK_TARGET_BYTES = 4095;
const JOLIET_MAX_UNITS = 64;
/** Path table parent numbers are 16-bit. */
const MAX_DIRECTORIES = 65535;
/** Extents are 32-bit byte counts; we do not write multi-extent files. */
const MAX_FILE_SIZE = 0xffffffff;

const VOLUME_ID_RE = /^[A-Za-z0-9_.-]{1,32}$/;
// a-characters (ECMA-119 7.4.1): A-Z 0-9 _ space and ! " % & ' ( ) * + , - . / : ; < = > ?
const A_CHARS_RE = /^[A-Z0-9_ !"%&'()*+,\-./:;<=>?]*$/;

// ---------------------------------------------------------------------------------------------
// Tree model

interface Node {
  /** Rock Ridge (POSIX) name; '' for the root. */
  name: string;
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  mtime: Date;
  data?: Buffer;
  target?: string;
  parent?: Node;
  /** Children by POSIX name; only for directories. */
  children?: Map<string, Node>;
  /** Primary-hierarchy identifier bytes (d-characters, with ";1" for files). */
  isoId: Buffer;
  isoSortKey: [string, string];
  /** Joliet identifier bytes (UTF-16BE); empty for symlinks (left out of Joliet). */
  jolietId: Buffer;
  /** Layout results. */
  dataLba: number;
  isoDir?: DirLayout;
  jolietDir?: DirLayout;
}

interface DirLayout {
  /** Records in on-disk order: '.', '..', then children. */
  records: RecordPlan[];
  size: number;
  lba: number;
  /** 1-based index in the path table of this hierarchy. */
  number: number;
}

interface RecordPlan {
  /** Node the record points at ('.' -> the dir itself, '..' -> the parent). */
  target: Node;
  id: Buffer;
  length: number;
  offset: number;
  su?: SuPlan;
}

interface SuPlan {
  inline: Buffer[];
  /** Continuation areas; each is written where the preceding CE says. */
  areas: ContinuationArea[];
}

interface ContinuationArea {
  entries: Buffer[];
  length: number;
  /** Byte offset inside the continuation region. */
  offset: number;
}

function isSymlinkInput(f: IsoInputFile | IsoInputSymlink): f is IsoInputSymlink {
  return typeof (f as IsoInputSymlink).target === 'string' && !('data' in f);
}

function fail(path: string, why: string): never {
  throw new IsoError(`ISO entry ${JSON.stringify(path)}: ${why}`);
}

function checkPath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) fail(String(path), 'path is empty');
  if (path.startsWith('/')) fail(path, 'path must be relative (no leading "/")');
  const parts = path.split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') fail(path, `path segment ${JSON.stringify(part)} is not allowed`);
    // Control characters in names break config lines and terminals downstream: the context's path character rule.
    if (hasForbiddenOrTab(part)) fail(path, 'path contains a control character');
    if (Buffer.byteLength(part, 'utf8') > MAX_NAME_BYTES) fail(path, `name ${JSON.stringify(part)} is longer than ${MAX_NAME_BYTES} bytes`);
  }
  return parts;
}

function resolveTimes(opts: WriteIsoOptions): { volume: Date; entry: (m?: Date) => Date } {
  if (opts.mtime) {
    if (Number.isNaN(opts.mtime.getTime())) throw new IsoError('ISO option mtime: not a valid date');
    const fixed = opts.mtime;
    return { volume: fixed, entry: () => fixed };
  }
  const sde = process.env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && sde !== '') {
    if (!/^\d{1,12}$/.test(sde)) throw new IsoError(`SOURCE_DATE_EPOCH = ${JSON.stringify(sde)}: must be a whole number of seconds`);
    const epoch = new Date(Number(sde) * 1000);
    return { volume: epoch, entry: (m) => (m && m.getTime() < epoch.getTime() ? m : epoch) };
  }
  const now = new Date();
  return { volume: now, entry: (m) => m ?? now };
}

function buildTree(files: (IsoInputFile | IsoInputSymlink)[], opts: WriteIsoOptions, entryTime: (m?: Date) => Date, dirTime: Date): { root: Node; count: number } {
  const mkDir = (name: string, parent?: Node): Node => ({
    name,
    kind: 'dir',
    mode: DIR_MODE,
    mtime: dirTime,
    parent,
    children: new Map(),
    isoId: Buffer.alloc(0),
    isoSortKey: ['', ''],
    jolietId: Buffer.alloc(0),
    dataLba: 0,
  });
  const root = mkDir('');
  let count = 1;
  for (const f of files) {
    const parts = checkPath(f.path);
    let dir = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const seg = parts[i]!;
      let next = dir.children!.get(seg);
      if (!next) {
        next = mkDir(seg, dir);
        dir.children!.set(seg, next);
        count++;
      } else if (next.kind !== 'dir') {
        fail(f.path, `${JSON.stringify(parts.slice(0, i + 1).join('/'))} is a file, not a directory`);
      }
      dir = next;
    }
    const leaf = parts[parts.length - 1]!;
    if (dir.children!.has(leaf)) fail(f.path, 'given twice (or also implied as a directory)');
    let node: Node;
    if (isSymlinkInput(f)) {
      if ((opts.symlinks ?? 'refuse') !== 'preserve') {
        fail(f.path, `is a symlink (-> ${JSON.stringify(f.target)}); symlinks are refused unless symlinks: 'preserve'`);
      }
      const t = f.target;
      if (t.length === 0) fail(f.path, 'symlink target is empty');
      if (t.includes('\u0000')) fail(f.path, 'symlink target contains a NUL byte');
      if (Buffer.byteLength(t, 'utf8') > MAX_SYMLINK_TARGET_BYTES) fail(f.path, `symlink target is longer than ${MAX_SYMLINK_TARGET_BYTES} bytes`);
      node = { name: leaf, kind: 'symlink', mode: 0o777, mtime: entryTime(undefined), target: t, parent: dir, isoId: Buffer.alloc(0), isoSortKey: ['', ''], jolietId: Buffer.alloc(0), dataLba: 0 };
    } else {
      if (!Buffer.isBuffer(f.data)) fail(f.path, 'data must be a Buffer');
      if (f.data.length > MAX_FILE_SIZE) fail(f.path, 'file is 4 GiB or larger (multi-extent files are not written)');
      const mode = f.mode ?? DEFAULT_FILE_MODE;
      if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) fail(f.path, `mode ${String(mode)} is not a permission value 0..0o7777`);
      if (f.mtime !== undefined && Number.isNaN(f.mtime.getTime())) fail(f.path, 'mtime is not a valid date');
      node = { name: leaf, kind: 'file', mode, mtime: entryTime(f.mtime), data: f.data, parent: dir, isoId: Buffer.alloc(0), isoSortKey: ['', ''], jolietId: Buffer.alloc(0), dataLba: 0 };
    }
    dir.children!.set(leaf, node);
    count++;
  }
  return { root, count };
}

// ---------------------------------------------------------------------------------------------
// Names

function toDChars(s: string): string {
  let out = '';
  for (const ch of s) {
    const u = ch.toUpperCase();
    out += /^[A-Z0-9_]$/.test(u) ? u : '_';
  }
  return out;
}

/** Level-1 8.3 identifiers, unique within the directory (files and directories share one namespace). */
function assignIsoNames(children: Node[]): void {
  const taken = new Set<string>();
  for (const n of children) {
    let base: string;
    let ext = '';
    if (n.kind === 'dir') {
      base = toDChars(n.name).slice(0, 8);
    } else {
      const dot = n.name.lastIndexOf('.');
      if (dot > 0) {
        base = toDChars(n.name.slice(0, dot)).slice(0, 8);
        ext = toDChars(n.name.slice(dot + 1)).slice(0, 3);
      } else {
        base = toDChars(n.name).slice(0, 8);
      }
    }
    if (base === '') base = '_';
    let candidate = base;
    for (let i = 1; taken.has(`${candidate}.${ext}`); i++) {
      const suffix = String(i);
      candidate = base.slice(0, Math.max(0, 8 - suffix.length)) + suffix;
    }
    taken.add(`${candidate}.${ext}`);
    n.isoSortKey = [candidate, ext];
    n.isoId = Buffer.from(n.kind === 'dir' ? candidate : `${candidate}.${ext};1`, 'latin1');
  }
}

/** Cut a string to at most `max` UTF-16 units without splitting a surrogate pair. */
function cutUnits(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}

function assignJolietNames(children: Node[]): void {
  const taken = new Set<string>();
  for (const n of children) {
    if (n.kind === 'symlink') continue;
    // Joliet forbids * / : ; ? \ in identifiers.
    const clean = n.name.replace(/[*/:;?\\]/g, '_');
    const dot = n.kind === 'dir' ? -1 : clean.lastIndexOf('.');
    const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : '';
    const stem = ext ? clean.slice(0, dot) : clean;
    let candidate = clean.length <= JOLIET_MAX_UNITS ? clean : cutUnits(stem, JOLIET_MAX_UNITS - ext.length) + ext;
    for (let i = 1; taken.has(candidate); i++) {
      const tag = `~${i}`;
      candidate = cutUnits(stem, JOLIET_MAX_UNITS - ext.length - tag.length) + tag + ext;
    }
    taken.add(candidate);
    n.jolietId = encodeUcs2Be(candidate);
  }
}

function compareIso(a: Node, b: Node): number {
  const [ab, ae] = a.isoSortKey;
  const [bb, be] = b.isoSortKey;
  if (ab !== bb) return ab < bb ? -1 : 1;
  if (ae !== be) return ae < be ? -1 : 1;
  return 0;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// SUSP / Rock Ridge entries

const RR_PX = 0x01;
const RR_SL = 0x04;
const RR_NM = 0x08;
const RR_TF = 0x80;
const CE_LENGTH = 28;

function suHeader(sig: string, len: number): Buffer {
  const b = Buffer.alloc(len);
  b.write(sig, 0, 'latin1');
  b[2] = len;
  b[3] = 1;
  return b;
}

function suSP(): Buffer {
  const b = suHeader('SP', 7);
  b[4] = 0xbe;
  b[5] = 0xef;
  b[6] = 0;
  return b;
}

function suRR(flags: number): Buffer {
  const b = suHeader('RR', 5);
  b[4] = flags;
  return b;
}

function suPX(mode: number, nlink: number): Buffer {
  const b = suHeader('PX', 36);
  writeBoth32(b, 4, mode);
  writeBoth32(b, 12, nlink);
  writeBoth32(b, 20, 0);
  writeBoth32(b, 28, 0);
  return b;
}

function suTF(t: Date): Buffer {
  // MODIFY | ACCESS | ATTRIBUTES, short (7-byte) form.
  const b = suHeader('TF', 5 + 21);
  b[4] = 0x0e;
  encodeDate7(t, b, 5);
  encodeDate7(t, b, 12);
  encodeDate7(t, b, 19);
  return b;
}

function suNM(name: string): Buffer[] {
  const bytes = Buffer.from(name, 'utf8');
  const out: Buffer[] = [];
  for (let off = 0; off < bytes.length; off += 250) {
    const chunk = bytes.subarray(off, off + 250);
    const b = suHeader('NM', 5 + chunk.length);
    b[4] = off + 250 < bytes.length ? 0x01 : 0; // CONTINUE
    chunk.copy(b, 5);
    out.push(b);
  }
  return out;
}

/** SL entries: the target split into component records, packed into entries of at most 255 bytes. */
function suSL(target: string): Buffer[] {
  const comps: Buffer[] = [];
  const pushComp = (flags: number, content: Buffer) => {
    const c = Buffer.alloc(2 + content.length);
    c[0] = flags;
    c[1] = content.length;
    content.copy(c, 2);
    comps.push(c);
  };
  if (target.startsWith('/')) pushComp(0x08, Buffer.alloc(0)); // ROOT
  for (const part of target.split('/')) {
    if (part === '') continue;
    if (part === '.') pushComp(0x02, Buffer.alloc(0));
    else if (part === '..') pushComp(0x04, Buffer.alloc(0));
    else {
      const bytes = Buffer.from(part, 'utf8');
      for (let off = 0; off < bytes.length; off += 248) {
        pushComp(off + 248 < bytes.length ? 0x01 : 0, bytes.subarray(off, off + 248));
      }
    }
  }
  if (comps.length === 0) pushComp(0x02, Buffer.alloc(0)); // a target of only slashes: "/" handled above; "." otherwise
  const groups: Buffer[][] = [[]];
  let used = 0;
  for (const c of comps) {
    if (used + c.length > 250) {
      groups.push([]);
      used = 0;
    }
    groups[groups.length - 1]!.push(c);
    used += c.length;
  }
  return groups.map((g, i) => {
    const body = Buffer.concat(g);
    const b = suHeader('SL', 5 + body.length);
    b[4] = i < groups.length - 1 ? 0x01 : 0;
    body.copy(b, 5);
    return b;
  });
}

function suER(): Buffer {
  const id = Buffer.from(RRIP_ID, 'latin1');
  const des = Buffer.from(RRIP_DESCRIPTOR, 'latin1');
  const src = Buffer.from(RRIP_SOURCE, 'latin1');
  const b = suHeader('ER', 8 + id.length + des.length + src.length);
  b[4] = id.length;
  b[5] = des.length;
  b[6] = src.length;
  b[7] = 1;
  id.copy(b, 8);
  des.copy(b, 8 + id.length);
  src.copy(b, 8 + id.length + des.length);
  return b;
}

function writeCE(out: Buffer, off: number, lba: number, areaOffset: number, length: number): void {
  out.write('CE', off, 'latin1');
  out[off + 2] = CE_LENGTH;
  out[off + 3] = 1;
  writeBoth32(out, off + 4, lba);
  writeBoth32(out, off + 12, areaOffset);
  writeBoth32(out, off + 20, length);
}

const CE_PLACEHOLDER = Buffer.alloc(CE_LENGTH);

/** Split SUSP entries between the record (at most `inlineMax` bytes) and chained continuation areas. */
function planSu(entries: Buffer[], inlineMax: number): SuPlan {
  const total = entries.reduce((s, e) => s + e.length, 0);
  if (total <= inlineMax) return { inline: entries, areas: [] };
  const inline: Buffer[] = [];
  let used = 0;
  let i = 0;
  while (i < entries.length && used + entries[i]!.length <= inlineMax - CE_LENGTH) {
    used += entries[i]!.length;
    inline.push(entries[i++]!);
  }
  inline.push(CE_PLACEHOLDER);
  const areas: ContinuationArea[] = [];
  while (i < entries.length) {
    const area: ContinuationArea = { entries: [], length: 0, offset: 0 };
    let rest = 0;
    for (let j = i; j < entries.length; j++) rest += entries[j]!.length;
    if (rest <= SECTOR) {
      area.entries = entries.slice(i);
      area.length = rest;
      i = entries.length;
    } else {
      while (area.length + entries[i]!.length <= SECTOR - CE_LENGTH) {
        area.length += entries[i]!.length;
        area.entries.push(entries[i++]!);
      }
      area.entries.push(CE_PLACEHOLDER);
      area.length += CE_LENGTH;
    }
    areas.push(area);
  }
  return { inline, areas };
}

// ---------------------------------------------------------------------------------------------
// Layout

function recordLength(idLen: number, suLen: number): number {
  const base = 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
  const len = base + suLen;
  return len + (len % 2);
}

/** Place records so none crosses a sector boundary; returns the directory size (whole sectors). */
function packRecords(records: RecordPlan[]): number {
  let pos = 0;
  for (const r of records) {
    if ((pos % SECTOR) + r.length > SECTOR) pos = Math.ceil(pos / SECTOR) * SECTOR;
    r.offset = pos;
    pos += r.length;
  }
  return Math.ceil(pos / SECTOR) * SECTOR;
}

function sortedChildren(dir: Node, hierarchy: 'iso' | 'joliet'): Node[] {
  const kids = [...dir.children!.values()];
  if (hierarchy === 'iso') return kids.sort(compareIso);
  return kids.filter((k) => k.kind !== 'symlink').sort((a, b) => Buffer.compare(a.jolietId, b.jolietId));
}

/** Directories in path-table order: by level, then parent number, then identifier (BFS over sorted children). */
function directoriesBfs(root: Node, hierarchy: 'iso' | 'joliet'): Node[] {
  const out: Node[] = [root];
  for (let i = 0; i < out.length; i++) {
    for (const k of sortedChildren(out[i]!, hierarchy)) if (k.kind === 'dir') out.push(k);
  }
  return out;
}

function nlinkOf(n: Node): number {
  if (n.kind !== 'dir') return 1;
  let subdirs = 0;
  for (const k of n.children!.values()) if (k.kind === 'dir') subdirs++;
  return 2 + subdirs;
}

function posixMode(n: Node): number {
  if (n.kind === 'dir') return S_IFDIR | n.mode;
  if (n.kind === 'symlink') return S_IFLNK | 0o777;
  return S_IFREG | n.mode;
}

function rrEntries(n: Node, which: 'self' | 'dot' | 'dotdot', isRootDot: boolean): Buffer[] {
  const withName = which === 'self';
  const isLink = withName && n.kind === 'symlink';
  const flags = RR_PX | RR_TF | (withName ? RR_NM : 0) | (isLink ? RR_SL : 0);
  const out: Buffer[] = [];
  if (isRootDot) out.push(suSP());
  out.push(suRR(flags));
  if (withName) out.push(...suNM(n.name));
  out.push(suPX(posixMode(n), nlinkOf(n)));
  out.push(suTF(n.mtime));
  if (isLink) out.push(...suSL(n.target!));
  if (isRootDot) out.push(suER());
  return out;
}

function planIsoDir(dir: Node, root: Node): DirLayout {
  const records: RecordPlan[] = [];
  const add = (target: Node, id: Buffer, entries: Buffer[]) => {
    const base = recordLength(id.length, 0);
    const su = planSu(entries, 254 - base);
    const suLen = su.inline.reduce((s, e) => s + e.length, 0);
    records.push({ target, id, length: recordLength(id.length, suLen), offset: 0, su });
  };
  add(dir, Buffer.from([0]), rrEntries(dir, 'dot', dir === root));
  add(dir.parent ?? dir, Buffer.from([1]), rrEntries(dir.parent ?? dir, 'dotdot', false));
  for (const k of sortedChildren(dir, 'iso')) add(k, k.isoId, rrEntries(k, 'self', false));
  return { records, size: packRecords(records), lba: 0, number: 0 };
}

function planJolietDir(dir: Node): DirLayout {
  const records: RecordPlan[] = [
    { target: dir, id: Buffer.from([0]), length: 34, offset: 0 },
    { target: dir.parent ?? dir, id: Buffer.from([1]), length: 34, offset: 0 },
  ];
  for (const k of sortedChildren(dir, 'joliet')) records.push({ target: k, id: k.jolietId, length: recordLength(k.jolietId.length, 0), offset: 0 });
  return { records, size: packRecords(records), lba: 0, number: 0 };
}

function pathTableSize(dirs: Node[], idOf: (n: Node) => Buffer): number {
  let size = 0;
  for (const d of dirs) {
    const len = d.parent ? idOf(d).length : 1;
    size += 8 + len + (len % 2);
  }
  return size;
}

const sectorsFor = (bytes: number) => Math.ceil(bytes / SECTOR);

// ---------------------------------------------------------------------------------------------
// Serialisation

function writeRecord(out: Buffer, off: number, r: RecordPlan, layoutOf: (n: Node) => DirLayout | undefined, ceAt: (a: ContinuationArea) => [number, number]): void {
  const n = r.target;
  const dl = layoutOf(n);
  const isDir = n.kind === 'dir';
  const lba = isDir ? dl!.lba : n.dataLba;
  const size = isDir ? dl!.size : n.kind === 'file' ? n.data!.length : 0;
  out[off] = r.length;
  out[off + 1] = 0;
  writeBoth32(out, off + 2, lba);
  writeBoth32(out, off + 10, size);
  encodeDate7(n.mtime, out, off + 18);
  out[off + 25] = isDir ? FLAG_DIRECTORY : 0;
  writeBoth16(out, off + 28, 1);
  out[off + 32] = r.id.length;
  r.id.copy(out, off + 33);
  if (!r.su) return;
  const suStart = off + 33 + r.id.length + (r.id.length % 2 === 0 ? 1 : 0);
  const writeEntries = (entries: Buffer[], at: number, next: ContinuationArea | undefined): void => {
    for (const e of entries) {
      if (e === CE_PLACEHOLDER) {
        const [lbaCe, offCe] = ceAt(next!);
        writeCE(out, at, lbaCe, offCe, next!.length);
      } else e.copy(out, at);
      at += e.length;
    }
  };
  writeEntries(r.su.inline, suStart, r.su.areas[0]);
  r.su.areas.forEach((area, i) => {
    const [lbaA, offA] = ceAt(area);
    writeEntries(area.entries, lbaA * SECTOR + offA, r.su!.areas[i + 1]);
  });
}

function writePathTable(out: Buffer, off: number, dirs: Node[], layoutOf: (n: Node) => DirLayout, idOf: (n: Node) => Buffer, bigEndian: boolean): void {
  for (const d of dirs) {
    const id = d.parent ? idOf(d) : Buffer.from([0]);
    const dl = layoutOf(d);
    const parentNo = d.parent ? layoutOf(d.parent).number : 1;
    out[off] = id.length;
    out[off + 1] = 0;
    if (bigEndian) {
      out.writeUInt32BE(dl.lba, off + 2);
      out.writeUInt16BE(parentNo, off + 6);
    } else {
      out.writeUInt32LE(dl.lba, off + 2);
      out.writeUInt16LE(parentNo, off + 6);
    }
    id.copy(out, off + 8);
    off += 8 + id.length + (id.length % 2);
  }
}

function writeText(out: Buffer, off: number, len: number, text: string, joliet: boolean): void {
  if (joliet) {
    for (let i = 0; i + 1 < len; i += 2) out.writeUInt16BE(0x0020, off + i);
    const enc = encodeUcs2Be(cutUnits(text, Math.floor(len / 2)));
    enc.copy(out, off);
  } else {
    out.fill(0x20, off, off + len);
    out.write(text, off, len, 'latin1');
  }
}

interface Descriptor {
  joliet: boolean;
  root: Node;
  layoutOf: (n: Node) => DirLayout;
  ptSize: number;
  ptL: number;
  ptM: number;
}

function writeDescriptor(out: Buffer, sector: number, d: Descriptor, totalSectors: number, volumeId: string, systemId: string, publisher: string, time: Date): void {
  const off = sector * SECTOR;
  out[off + VD.type] = d.joliet ? VD_SUPPLEMENTARY : VD_PRIMARY;
  out.write(STANDARD_ID, off + VD.standardId, 'latin1');
  out[off + VD.version] = 1;
  writeText(out, off + VD.systemId, 32, systemId, d.joliet);
  writeText(out, off + VD.volumeId, 32, volumeId, d.joliet);
  writeBoth32(out, off + VD.spaceSize, totalSectors);
  if (d.joliet) out.write(JOLIET_ESCAPES[2]!, off + VD.escapes, 'latin1');
  writeBoth16(out, off + VD.setSize, 1);
  writeBoth16(out, off + VD.sequence, 1);
  writeBoth16(out, off + VD.blockSize, SECTOR);
  writeBoth32(out, off + VD.pathTableSize, d.ptSize);
  out.writeUInt32LE(d.ptL, off + VD.pathTableL);
  out.writeUInt32BE(d.ptM, off + VD.pathTableM);
  // Root directory record: 34 bytes, no system use (SUSP lives in the root's own '.' record).
  const rl = d.layoutOf(d.root);
  const r = off + VD.rootRecord;
  out[r] = 34;
  writeBoth32(out, r + 2, rl.lba);
  writeBoth32(out, r + 10, rl.size);
  encodeDate7(d.root.mtime, out, r + 18);
  out[r + 25] = FLAG_DIRECTORY;
  writeBoth16(out, r + 28, 1);
  out[r + 32] = 1;
  out[r + 33] = 0;
  writeText(out, off + VD.volumeSetId, 128, '', d.joliet);
  writeText(out, off + VD.publisherId, 128, publisher, d.joliet);
  writeText(out, off + VD.preparerId, 128, '', d.joliet);
  writeText(out, off + VD.applicationId, 128, APPLICATION_ID, d.joliet);
  writeText(out, off + VD.copyrightId, 37, '', d.joliet);
  writeText(out, off + VD.abstractId, 37, '', d.joliet);
  writeText(out, off + VD.biblioId, 37, '', d.joliet);
  encodeDate17(time, out, off + VD.created);
  encodeDate17(time, out, off + VD.modified);
  encodeDate17(undefined, out, off + VD.expires);
  encodeDate17(time, out, off + VD.effective);
  out[off + VD.structureVersion] = 1;
}

function checkIdentifier(what: string, value: string, max: number, re: RegExp, rule: string): void {
  if (value.length > max || !re.test(value)) throw new IsoError(`ISO ${what} ${JSON.stringify(value)}: must be at most ${max} characters from ${rule}`);
}

/** Build a complete ISO 9660 + Rock Ridge + Joliet image. Directories are implied by paths (mode 0755). */
export function writeIso(files: (IsoInputFile | IsoInputSymlink)[], opts: WriteIsoOptions = {}): Buffer {
  const volumeId = opts.volumeId ?? DEFAULT_ISO_VOLUME_ID;
  if (!VOLUME_ID_RE.test(volumeId)) {
    throw new IsoError(`ISO volume label ${JSON.stringify(volumeId)}: must be 1-32 characters from A-Z a-z 0-9 _ . -`);
  }
  const systemId = opts.systemId ?? 'LINUX';
  checkIdentifier('system id', systemId, 32, A_CHARS_RE, 'A-Z 0-9 _ space !"%&\'()*+,-./:;<=>?');
  const publisher = opts.publisher ?? '';
  checkIdentifier('publisher', publisher, 128, A_CHARS_RE, 'A-Z 0-9 _ space !"%&\'()*+,-./:;<=>?');
  if (opts.symlinks !== undefined && opts.symlinks !== 'refuse' && opts.symlinks !== 'preserve') {
    throw new IsoError(`ISO option symlinks = ${JSON.stringify(opts.symlinks)}: must be 'refuse' or 'preserve'`);
  }

  const times = resolveTimes(opts);
  const { root } = buildTree(files, opts, times.entry, times.volume);

  // Names: children visited in POSIX byte order so mangling is deterministic.
  const allDirs: Node[] = [];
  const walk = (d: Node) => {
    allDirs.push(d);
    const kids = [...d.children!.values()].sort((a, b) => byteOrder(a.name, b.name));
    assignIsoNames(kids);
    assignJolietNames(kids);
    for (const k of kids) if (k.kind === 'dir') walk(k);
  };
  walk(root);
  if (allDirs.length > MAX_DIRECTORIES) throw new IsoError(`ISO tree has ${allDirs.length} directories; at most ${MAX_DIRECTORIES} fit in a path table`);

  const isoDirs = directoriesBfs(root, 'iso');
  const jolDirs = directoriesBfs(root, 'joliet');
  isoDirs.forEach((d, i) => {
    d.isoDir = planIsoDir(d, root);
    d.isoDir.number = i + 1;
  });
  jolDirs.forEach((d, i) => {
    d.jolietDir = planJolietDir(d);
    d.jolietDir.number = i + 1;
  });
  const isoLayout = (n: Node) => n.isoDir!;
  const jolLayout = (n: Node) => n.jolietDir!;

  // Continuation areas, packed so none crosses a sector boundary.
  const areas: ContinuationArea[] = [];
  for (const d of isoDirs) for (const r of d.isoDir!.records) if (r.su) areas.push(...r.su.areas);
  let cePos = 0;
  for (const a of areas) {
    if ((cePos % SECTOR) + a.length > SECTOR) cePos = Math.ceil(cePos / SECTOR) * SECTOR;
    a.offset = cePos;
    cePos += a.length;
  }

  const ptIsoSize = pathTableSize(isoDirs, (n) => n.isoId);
  const ptJolSize = pathTableSize(jolDirs, (n) => n.jolietId);
  let lba = 19; // 16 PVD, 17 Joliet SVD, 18 terminator
  const ptIsoL = lba;
  lba += sectorsFor(ptIsoSize);
  const ptIsoM = lba;
  lba += sectorsFor(ptIsoSize);
  const ptJolL = lba;
  lba += sectorsFor(ptJolSize);
  const ptJolM = lba;
  lba += sectorsFor(ptJolSize);
  for (const d of isoDirs) {
    d.isoDir!.lba = lba;
    lba += d.isoDir!.size / SECTOR;
  }
  const ceStart = lba;
  lba += sectorsFor(cePos);
  for (const d of jolDirs) {
    d.jolietDir!.lba = lba;
    lba += d.jolietDir!.size / SECTOR;
  }
  // File data in primary-tree order; empty files and symlinks point at the next free block, size 0.
  const dataFiles: Node[] = [];
  for (const d of isoDirs) for (const r of d.isoDir!.records.slice(2)) if (r.target.kind !== 'dir') dataFiles.push(r.target);
  for (const f of dataFiles) {
    f.dataLba = lba;
    if (f.kind === 'file') lba += sectorsFor(f.data!.length);
  }
  const total = lba;
  if (total * SECTOR > 0xffffffff) throw new IsoError(`ISO image would be ${total * SECTOR} bytes; at most 4 GiB is supported`);

  const out = Buffer.alloc(total * SECTOR);
  const pvd: Descriptor = { joliet: false, root, layoutOf: isoLayout, ptSize: ptIsoSize, ptL: ptIsoL, ptM: ptIsoM };
  const svd: Descriptor = { joliet: true, root, layoutOf: jolLayout, ptSize: ptJolSize, ptL: ptJolL, ptM: ptJolM };
  writeDescriptor(out, 16, pvd, total, volumeId, systemId, publisher, times.volume);
  writeDescriptor(out, 17, svd, total, volumeId, systemId, publisher, times.volume);
  out[18 * SECTOR] = VD_TERMINATOR;
  out.write(STANDARD_ID, 18 * SECTOR + 1, 'latin1');
  out[18 * SECTOR + 6] = 1;

  writePathTable(out, ptIsoL * SECTOR, isoDirs, isoLayout, (n) => n.isoId, false);
  writePathTable(out, ptIsoM * SECTOR, isoDirs, isoLayout, (n) => n.isoId, true);
  writePathTable(out, ptJolL * SECTOR, jolDirs, jolLayout, (n) => n.jolietId, false);
  writePathTable(out, ptJolM * SECTOR, jolDirs, jolLayout, (n) => n.jolietId, true);

  const ceAt = (a: ContinuationArea): [number, number] => [ceStart + Math.floor(a.offset / SECTOR), a.offset % SECTOR];
  for (const d of isoDirs) {
    const base = d.isoDir!.lba * SECTOR;
    for (const r of d.isoDir!.records) writeRecord(out, base + r.offset, r, (n) => n.isoDir, ceAt);
  }
  for (const d of jolDirs) {
    const base = d.jolietDir!.lba * SECTOR;
    for (const r of d.jolietDir!.records) writeRecord(out, base + r.offset, r, (n) => n.jolietDir, ceAt);
  }
  for (const f of dataFiles) if (f.kind === 'file' && f.data!.length > 0) f.data!.copy(out, f.dataLba * SECTOR);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Effectful shell: read a directory tree from disk.

/**
 * Read a directory tree: regular files with their permission bits and mtimes, symlinks per `symlinks`
 * (refused by default). Empty directories are not represented (writeIso implies directories from paths);
 * FIFOs, sockets and devices are refused.
 */
export async function collectDirectory(dir: string, opts: { symlinks?: 'refuse' | 'preserve' } = {}): Promise<(IsoInputFile | IsoInputSymlink)[]> {
  // Synchronous reads on purpose: a context is a handful of small files, and each async fs call is a
  // thread-pool round trip that cost more than building the whole image (bench/iso.ts).
  let top;
  try {
    top = lstatSync(dir);
  } catch (e) {
    throw new IsoError(`ISO source directory ${JSON.stringify(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  if (!top.isDirectory()) throw new IsoError(`ISO source directory ${JSON.stringify(dir)}: not a directory`);
  const out: (IsoInputFile | IsoInputSymlink)[] = [];
  const visit = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const a = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(a);
      if (st.isDirectory()) {
        visit(a, r);
      } else if (st.isFile()) {
        out.push({ path: r, data: readFileSync(a), mode: st.mode & 0o7777, mtime: st.mtime });
      } else if (st.isSymbolicLink()) {
        const target = readlinkSync(a);
        if ((opts.symlinks ?? 'refuse') !== 'preserve') {
          throw new IsoError(`ISO entry ${JSON.stringify(r)}: is a symlink (-> ${JSON.stringify(target)}) in ${JSON.stringify(dir)}; symlinks are refused unless symlinks: 'preserve'`);
        }
        out.push({ path: r, target });
      } else {
        throw new IsoError(`ISO entry ${JSON.stringify(r)} in ${JSON.stringify(dir)}: not a regular file, directory or symlink`);
      }
    }
  };
  visit(dir, '');
  // Stable order whatever the I/O completion order was.
  return out.sort((a, b) => byteOrder(a.path, b.path));
}

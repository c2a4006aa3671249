/** Shared helpers for the ISO 9660 tests: temp dirs, the real tools (argv only, no shell), listing parsers. */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'iso-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Run a tool and return stdout+stderr; throws with the output if it exits non-zero. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...opts });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

export interface ListedEntry {
  type: 'file' | 'dir' | 'symlink';
  size?: number;
  mode?: number;
  target?: string;
}

function modeFromLs(s: string): number {
  let m = 0;
  const bits = s.slice(1);
  const map = [0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1];
  for (let i = 0; i < 9; i++) if (bits[i] !== '-') m |= map[i]!;
  return m;
}

function typeFromLs(c: string): ListedEntry['type'] {
  return c === 'd' ? 'dir' : c === 'l' ? 'symlink' : 'file';
}

/** `xorriso -indev X -find / -exec lsdl`: one ls -l line per node, names quoted. */
export function xorrisoList(iso: string): Map<string, ListedEntry> {
  const out = execFileSync('xorriso', ['-indev', iso, '-find', '/', '-exec', 'lsdl'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });
  const map = new Map<string, ListedEntry>();
  for (const line of out.split('\n')) {
    const m = /^([-dl][-rwxsStT]{9})\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\w+\s+\d+\s+[\d:]+\s+'(.*?)'(?: -> '(.*)')?$/.exec(line);
    if (!m || m[3] === '/') continue;
    const e: ListedEntry = { type: typeFromLs(m[1]![0]!), mode: modeFromLs(m[1]!), size: Number(m[2]) };
    if (m[4] !== undefined) e.target = m[4];
    map.set(m[3]!.replace(/^\//, ''), e);
  }
  return map;
}

/** `isoinfo [-R|-J] -l -i X`: "Directory listing of /dir/" headers, then ls -l style lines. */
export function isoinfoList(iso: string, flag: '-R' | '-J'): Map<string, ListedEntry> {
  const out = execFileSync('isoinfo', [flag, '-l', '-i', iso], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const map = new Map<string, ListedEntry>();
  let dir = '';
  for (const line of out.split('\n')) {
    const h = /^Directory listing of \/(.*)$/.exec(line);
    if (h) {
      dir = h[1]!;
      continue;
    }
    const m = /^([-dl][-rwxsStT]{9})\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\w{3}\s+\d+\s+\d{4}\s+\[\s*\d+\s+\d+\]\s\s(.*?) ?$/.exec(line);
    if (!m) continue;
    let name = m[3]!;
    let target: string | undefined;
    const arrow = name.indexOf(' -> ');
    if (m[1]![0] === 'l' && arrow >= 0) {
      target = name.slice(arrow + 4);
      name = name.slice(0, arrow);
    }
    if (name === '.' || name === '..') continue;
    const e: ListedEntry = { type: typeFromLs(m[1]![0]!), size: Number(m[2]) };
    if (flag === '-R') e.mode = modeFromLs(m[1]!);
    if (target !== undefined) e.target = target;
    map.set(dir + name, e);
  }
  return map;
}

/** `7z l -slt X`: blocks of "Key = value" lines per item. */
export function sevenZipList(iso: string): Map<string, ListedEntry> {
  const out = execFileSync('7z', ['l', '-slt', iso], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const body = out.split(/^----------$/m)[1] ?? '';
  const map = new Map<string, ListedEntry>();
  for (const block of body.split(/\n\s*\n/)) {
    const kv = new Map<string, string>();
    for (const l of block.split('\n')) {
      const i = l.indexOf(' = ');
      if (i > 0) kv.set(l.slice(0, i), l.slice(i + 3));
    }
    const path = kv.get('Path');
    if (!path) continue;
    const isDir = kv.get('Folder') === '+';
    map.set(path, isDir ? { type: 'dir' } : { type: 'file', size: Number(kv.get('Size')) });
  }
  return map;
}

export interface DiskEntry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  data?: Buffer;
  target?: string;
}

/** Snapshot of a directory tree on disk (relative POSIX paths). */
export function readTree(root: string): Map<string, DiskEntry> {
  const map = new Map<string, DiskEntry>();
  const visit = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const a = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(a);
      if (st.isDirectory()) {
        map.set(r, { type: 'dir', mode: st.mode & 0o7777 });
        visit(a, r);
      } else if (st.isSymbolicLink()) map.set(r, { type: 'symlink', mode: 0o777, target: readlinkSync(a) });
      else map.set(r, { type: 'file', mode: st.mode & 0o7777, data: readFileSync(a) });
    }
  };
  visit(root, '');
  return map;
}

/** Deterministic PRNG so fuzz cases are reproducible from their seed. */
export { mulberry32 as prng } from '../support/prng.js';

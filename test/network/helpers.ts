import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { expect } from 'vitest';

export function tempRoot(tag: string): string {
  return mkdtempSync(join(tmpdir(), `ctx-net-${tag}-`));
}

/** Write `content` at in-root `path`, creating parents. */
export function put(root: string, path: string, content = ''): void {
  const host = join(root, path);
  mkdirSync(dirname(host), { recursive: true });
  writeFileSync(host, content);
}

export function link(root: string, path: string, target: string): void {
  const host = join(root, path);
  mkdirSync(dirname(host), { recursive: true });
  symlinkSync(target, host);
}

export interface FakeNic {
  name: string;
  mac: string;
  /** ARPHRD type; 1 = Ethernet. */
  type?: number;
  /** '1', '0', or 'unreadable' (the kernel answers EINVAL while the link is down). */
  carrier?: '1' | '0' | 'unreadable';
  /** Bus device path under /sys/devices; absent = virtual (bridge, veth, bond...). */
  bus?: string;
}

/**
 * A /sys laid out as the kernel does it: /sys/class/net/X is a relative symlink into /sys/devices,
 * physical NICs have a `device` symlink to their bus device, virtual ones live in /sys/devices/virtual/net.
 */
export function fakeSysfs(root: string, nics: FakeNic[]): void {
  mkdirSync(join(root, 'sys/class/net'), { recursive: true });
  for (const n of nics) {
    const devDir = n.bus ? `sys/devices/${n.bus}/net/${n.name}` : `sys/devices/virtual/net/${n.name}`;
    put(root, `${devDir}/address`, `${n.mac}\n`);
    put(root, `${devDir}/type`, `${n.type ?? 1}\n`);
    if (n.carrier === 'unreadable') {
      // A directory cannot be read as a file: the read fails just as the kernel's EINVAL does.
      mkdirSync(join(root, devDir, 'carrier'), { recursive: true });
    } else if (n.carrier) put(root, `${devDir}/carrier`, `${n.carrier}\n`);
    if (n.bus) link(root, `${devDir}/device`, '../../../' + n.bus.split('/').pop());
    link(root, `sys/class/net/${n.name}`, relative(join(root, 'sys/class/net'), join(root, devDir)));
  }
}

function listTree(dir: string, base = dir): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(listTree(p, base));
    else out.push(relative(base, p));
  }
  return out.sort();
}

/**
 * Compare `actual` (relative path -> content) with the golden directory byte for byte.
 * UPDATE_GOLDEN=1 rewrites the directory instead (then review the diff with git).
 */
export function expectGolden(dir: string, actual: Record<string, string>): void {
  if (process.env.UPDATE_GOLDEN === '1') {
    rmSync(dir, { recursive: true, force: true });
    for (const [rel, content] of Object.entries(actual)) put(dir, rel, content);
    return;
  }
  let expectedFiles: string[];
  try {
    expectedFiles = listTree(dir);
  } catch {
    throw new Error(`golden directory ${dir} is missing; run with UPDATE_GOLDEN=1 to create it`);
  }
  expect(Object.keys(actual).sort(), `files under ${dir}`).toEqual(expectedFiles);
  for (const rel of expectedFiles) {
    const expected = readFileSync(join(dir, rel));
    expect(actual[rel], `${join(dir, rel)} (UPDATE_GOLDEN=1 regenerates)`).toBe(expected.toString('utf8'));
    expect(Buffer.from(actual[rel]!).equals(expected), `${join(dir, rel)}: bytes differ`).toBe(true);
  }
}

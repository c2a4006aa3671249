/**
 * Shared pieces of the hardening suites: a seeded PRNG, fake image roots, ISO fixtures, the real agent
 * binary, and byte-exact snapshots of a root. Same approach as test/agent/binary.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mulberry32 } from './prng.js';
import { writeIso } from '../../lib/iso9660/index.js';

export const REPO = join(import.meta.dirname, '../..');
/** The agent under test; CONTEXTUALIZATION_BIN runs the suites against another build (e.g. an older commit's). */
export const BIN = process.env.CONTEXTUALIZATION_BIN ?? join(REPO, 'dist/contextualization');
export const MAC0 = '52:54:00:12:34:56';
export const SNOOZE_MAC = '00:16:c0:a8:7a:11'; // -> 192.168.122.17

export type Files = Record<string, string>;

/** A seeded generator with the helpers the fuzzers use (see ./prng.ts). */
export function prng(seed: number): { next: () => number; int: (n: number) => number; pick: <T>(a: readonly T[]) => T } {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (a) => a[int(a.length)]! };
}

/** FUZZ_SEED from the environment (decimal or 0x hex), else a fixed default so CI is reproducible. */
export function fuzzSeed(fallback = 0x5eed2024): number {
  const env = process.env.FUZZ_SEED;
  if (!env) return fallback;
  const n = Number(env);
  if (!Number.isFinite(n)) throw new Error(`FUZZ_SEED=${env}: not a number`);
  return n >>> 0;
}

export const SNOOZE: Files = {
  'common/network': 'GATEWAY=192.168.122.1\nNETWORK=192.168.122.0\nBROADCAST=192.168.122.255\nNETMASK=255.255.255.0\nNAMESERVER=192.168.122.1\nDOMAIN=example.org\nSEARCH=example.org\n',
  'common/routes': 'up route add -net 10.20.0.0 netmask 255.255.0.0 gw 192.168.122.254 dev eth0\n',
  'post-install': '#!/bin/bash\necho hello > /tmp/snooze-marker\n',
};

export const EXTENDED: Files = {
  'common/network': 'NAMESERVER="10.0.0.53 10.0.0.54"\nSEARCH=lab.example\n',
  'common/context.ini': `[context]\nversion = 1\ninstance_id = test-42\nhostname = web01.lab.example\npost_install = per-instance\npost_install_timeout = 30\n\n[nic "${MAC0}"]\nmethod = static\naddress = 10.0.0.17/24\ngateway = 10.0.0.1\nipv6 = 2001:db8::17/64\nmtu = 1500\n\n[dns]\ndomain = lab.example\n`,
  'common/routes': 'up route add -net 10.30.0.0 netmask 255.255.0.0 gw 10.0.0.254 dev eth0\n',
  'common/authorized_keys': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmVmvHxQb7rHj6l0h0l1Vx8t2nQ2wX9Yk1xg7c5Q0Zz admin@host\n',
  'post-install': '#!/bin/bash\necho hi\n',
};

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function isoBytes(files: Files | Map<string, Buffer>): Buffer {
  const entries = files instanceof Map ? [...files] : Object.entries(files).map(([p, d]) => [p, Buffer.from(d)] as const);
  return writeIso(entries.map(([path, data]) => ({ path, data, mode: path === 'post-install' ? 0o755 : 0o644 })));
}

export function isoOf(files: Files | Map<string, Buffer>, dir = tmp('ctx-iso-')): string {
  const iso = join(dir, 'context.iso');
  writeFileSync(iso, isoBytes(files));
  return iso;
}

export function put(root: string, path: string, content = '', mode = 0o644): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content, { mode });
}

function enableUnit(root: string, unit: string): void {
  put(root, `/lib/systemd/system/${unit}`, '[Service]\n');
  mkdirSync(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  symlinkSync(`/lib/systemd/system/${unit}`, join(root, 'etc/systemd/system/multi-user.target.wants', unit));
}

/** Fake image roots, each laid out the way its distro family looks to the backend detector. */
export const ROOTS: Record<string, (r: string) => void> = {
  ifupdown: (r) => {
    put(r, '/etc/network/interfaces', 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n');
    put(r, '/sbin/ifup', '#!/bin/sh\n', 0o755);
  },
  networkd: (r) => enableUnit(r, 'systemd-networkd.service'),
  networkmanager: (r) => {
    enableUnit(r, 'NetworkManager.service');
    mkdirSync(join(r, 'etc/NetworkManager/system-connections'), { recursive: true });
  },
  netplan: (r) => {
    mkdirSync(join(r, 'etc/netplan'), { recursive: true });
    put(r, '/usr/sbin/netplan', '#!/bin/sh\n', 0o755);
  },
  ifcfg: (r) => mkdirSync(join(r, 'etc/sysconfig/network-scripts'), { recursive: true }),
};

export const PRISTINE: Files = {
  '/etc/hosts': '127.0.0.1\tlocalhost\n127.0.1.1\tbase-image\n',
  '/etc/hostname': 'base-image\n',
  '/etc/resolv.conf': 'nameserver 10.9.9.9\n',
  '/root/.ssh/authorized_keys': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOriginalOriginalOriginalOriginalOrig orig@host\n',
};

export function newRoot(kind: string, base?: string): string {
  const r = base ?? tmp(`root-${kind}-`);
  ROOTS[kind]!(r);
  for (const [p, c] of Object.entries(PRISTINE)) put(r, p, c);
  return r;
}

export interface RunResult { code: number; stdout: string; stderr: string; signal: NodeJS.Signals | null }

export function runBin(args: string[], opts: { timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Every file, link and dir under root with its bytes / target / mode. */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = lstatSync(p);
      const k = p.slice(root.length);
      if (st.isSymbolicLink()) out[k] = `link:${readlinkSync(p)}`;
      else if (st.isDirectory()) { out[k] = `dir:${st.mode}`; walk(p); }
      else if (st.isFile()) out[k] = `file:${st.mode.toString(8)}:${readFileSync(p, 'base64')}`;
      else out[k] = `special:${st.mode.toString(8)}:${st.rdev}`; // FIFO, device, socket: never opened
    }
  };
  walk(root);
  return out;
}

/** Fail loudly under CI when a precondition (root, a tool) is missing; elsewhere say why it is skipped. */
export function requireOrSkip(ok: boolean, what: string): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') throw new Error(`hardening: ${what} is required in CI`);
  console.warn(`hardening: skipped, ${what} is not available here`);
  return false;
}

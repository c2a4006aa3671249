/** Shared helpers for the contextgen tests: in-process CLI runs, temp dirs, directory snapshots, real tools. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import { main } from '../../host-tools/src/program.js';
import type { Io } from '../../host-tools/src/io.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TEMPLATE = join(ROOT, 'context-template');

export interface Run {
  code: number;
  out: string[];
  err: string[];
}

export function makeIo(cwd: string, env: NodeJS.ProcessEnv = {}): Io & { lines: { out: string[]; err: string[] } } {
  const lines = { out: [] as string[], err: [] as string[] };
  return { out: (l) => lines.out.push(l), err: (l) => lines.err.push(l), env, cwd, isTTY: false, lines };
}

/** `contextgen ARGS` in-process (same code path as the binary, minus process streams). */
export async function cg(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  const io = makeIo(opts.cwd, opts.env);
  const code = await main(['node', 'contextgen', ...args], io);
  return { code, out: io.lines.out, err: io.lines.err };
}

/** `npx tsx host-tools/src/cli.ts ARGS` as a real subprocess. */
export function cgProcess(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'host-tools/src/cli.ts'), ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const made: string[] = [];
export function tempDir(prefix = 'cg-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Every entry under `dir` with type, mode and content hash: equal snapshots = nothing written. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const full = join(dir, rel);
    for (const name of readdirSync(full).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) {
        out[r] = `dir ${st.mode.toString(8)}`;
        walk(r);
      } else out[r] = `file ${st.mode.toString(8)} ${st.size} ${createHash('sha256').update(readFileSync(join(dir, r))).digest('hex')}`;
    }
  };
  walk('');
  return out;
}

/** libvirt's own schema check. Returns the tool's output; throws when the file does not validate. */
export function virtXmlValidate(file: string): string {
  return execFileSync('virt-xml-validate', [file, 'domain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function virshDefine(file: string): { code: number; out: string } {
  const r = spawnSync('virsh', ['-c', 'test:///default', 'define', file], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

export function qemuImgInfo(file: string): Record<string, unknown> {
  return JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as Record<string, unknown>;
}

/** A real OpenSSH ed25519 public key line (no ssh-keygen needed). */
export function sshPublicKey(comment = 'test@host'): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} ${comment}`;
}

/** Polls `cond` every 50 ms until it holds; throws after `ms`. */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Writes `pattern` over the first MiB of a qcow2 image with the real qemu-io. */
export function writeDiskPattern(image: string, pattern = '0xab'): void {
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} 0 1M`, image], { stdio: 'ignore' });
}

/** Whether the first MiB of the image holds `pattern` (qemu-io's own verification). */
export function hasDiskPattern(image: string, pattern = '0xab'): boolean {
  const r = spawnSync('qemu-io', ['-f', 'qcow2', '-c', `read -P ${pattern} 0 1M`, image], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  return r.status === 0 && !/Pattern verification failed/i.test(out) && /read 1048576\/1048576 bytes/.test(out);
}

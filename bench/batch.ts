/**
 * Batch benchmark: 1,000 VMs (context ISO + libvirt XML each, no overlays) from a generated
 * inventory into a temp directory, in-process. Target: under 5 s on the project's 2-core machine.
 * Run: npx tsx bench/batch.ts [count]
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBatch } from '../host-tools/src/commands/batch.js';
import type { Io } from '../host-tools/src/io.js';

/** A real OpenSSH ed25519 public key line, made here (no ssh-keygen needed). */
function ed25519PublicKeyLine(comment: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} ${comment}`;
}

const count = Number(process.argv[2] ?? 1000);
const TARGET_S = 5;

const dir = await mkdtemp(join(tmpdir(), 'contextgen-bench-'));
try {
  const keyFile = join(dir, 'id.pub');
  await writeFile(keyFile, `${ed25519PublicKeyLine('bench@host')}\n`);
  const script = join(dir, 'post-install');
  await writeFile(script, '#!/bin/bash\necho hello from post-install\n');
  // batch checks that each disk = PATH exists: empty stand-ins (the bench makes no overlays).
  await mkdir(join(dir, 'disks'));
  for (let i = 1; i <= count; i++) await writeFile(join(dir, 'disks', `node${String(i).padStart(4, '0')}.qcow2`), '');
  const inventory = join(dir, 'inventory.ini');
  await writeFile(
    inventory,
    [
      '[defaults]',
      'bridge = br0',
      `disk = ${join(dir, 'disks')}/{name}.qcow2`,
      'memory = 1024',
      'vcpus = 1',
      'pool = 10.20.0.0/20',
      'gateway = 10.20.0.1',
      'dns = 10.20.0.2, 10.20.0.3',
      'domain = bench.example',
      'search = example.org',
      `post_install = ${script}`,
      `ssh_key = ${keyFile}`,
      '',
      '[group node]',
      `count = ${count}`,
      `name = node{0001..${String(count).padStart(4, '0')}}`,
      '',
    ].join('\n'),
  );
  const out = join(dir, 'out');
  const io: Io = { out: () => undefined, err: (l) => console.error(l), env: {}, cwd: dir, isTTY: false };
  const t0 = performance.now();
  const r = await runBatch({ inventory, out, mtime: '1700000000' }, io);
  const seconds = (performance.now() - t0) / 1000;
  const dirs = (await readdir(out)).filter((n) => !n.startsWith('.')).length; // .contextgen.json is the manifest
  if (dirs !== count || r.vms.length !== count) throw new Error(`expected ${count} VM directories, found ${dirs}`);
  const files = r.files;
  console.log(`batch bench: ${count} VMs, ${files} files in ${seconds.toFixed(2)} s (${Math.round(files / seconds)} files/s, ${((seconds * 1000) / count).toFixed(2)} ms/VM)`);
  console.log(`target: ${count} VMs in < ${TARGET_S} s: ${seconds < TARGET_S ? 'met' : 'MISSED'}`);
  if (seconds >= TARGET_S && count === 1000) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Batch benchmark: 1,000 VMs (context ISO + libvirt XML each, no overlays) from a generated
 * inventory into a temp directory, in-process. Target: under 5 s on the project's 2-core machine.
 * Then (issue 12) the real `contextgen batch` binary against the shell loop operators write, on the
 * same VMS VMs with a qcow2 overlay each: genisoimage + qemu-img create + virt-install --print-xml
 * per VM; it prints the per-VM ratio (target >= 10x). The loop gets its context directories made
 * before the clock starts, so the ratio favours the loop, not us.
 * Run: npx tsx bench/batch.ts [count] [loop VMs, default 20]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
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
const loopVms = Number(process.argv[3] ?? 20);
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
  await versusShellLoop(dir, keyFile, script);
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** `contextgen batch` (binary, overlays included) vs the genisoimage + qemu-img + virt-install loop. */
async function versusShellLoop(dir: string, keyFile: string, script: string): Promise<void> {
  const missing = ['genisoimage', 'qemu-img', 'virt-install'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length) {
    console.log(`shell-loop comparison not run: ${missing.join(', ')} missing (apt-get install genisoimage qemu-utils virtinst)`);
    return;
  }
  const bin = join(import.meta.dirname, '../dist/contextgen');
  const base = join(dir, 'base.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '2G']);
  const names = Array.from({ length: loopVms }, (_, i) => `vm${String(i + 1).padStart(3, '0')}`);

  // The loop's inputs: one Snooze context directory per VM, as contextgen writes into its ISOs.
  const loop = join(dir, 'loop');
  for (const [i, n] of names.entries()) {
    const c = join(loop, n, 'context');
    await mkdir(join(c, 'common'), { recursive: true });
    await writeFile(join(c, 'common', 'network'), `IP_ADDRESS=10.30.0.${i + 10}\nNETMASK=255.255.255.0\nGATEWAY=10.30.0.1\nNAMESERVER=10.30.0.2\n`);
    await writeFile(join(c, 'common', 'authorized_keys'), await readFile(keyFile));
    await writeFile(join(c, 'post-install'), await readFile(script), { mode: 0o755 });
  }
  const loopScript = [
    'set -eu',
    `for n in ${names.join(' ')}; do`,
    `  d=${loop}/$n`,
    '  genisoimage -quiet -R -J -V CONTEXT -o $d/context.iso $d/context',
    `  qemu-img create -q -f qcow2 -F qcow2 -b ${base} $d/disk.qcow2`,
    '  virt-install --connect test:///default --print-xml --name $n --memory 1024 --vcpus 1 --import --osinfo detect=on,require=off \\',
    '    --disk path=$d/disk.qcow2,format=qcow2 --disk path=$d/context.iso,device=cdrom,readonly=on --network bridge=br0 > $d/domain.xml',
    'done',
  ].join('\n');
  const t0 = performance.now();
  execFileSync('bash', ['-c', loopScript], { stdio: ['ignore', 'ignore', 'inherit'] });
  const loopMs = performance.now() - t0;

  const inventory = join(dir, 'loop.ini');
  await writeFile(inventory, [
    '[defaults]', 'bridge = br0', `base_image = ${base}`, 'memory = 1024', 'vcpus = 1', 'pool = 10.30.0.0/24',
    'gateway = 10.30.0.1', 'dns = 10.30.0.2', `post_install = ${script}`, `ssh_key = ${keyFile}`, '',
    '[group vm]', `count = ${loopVms}`, `name = vm{001..${String(loopVms).padStart(3, '0')}}`, '',
  ].join('\n'));
  const t1 = performance.now();
  execFileSync(bin, ['batch', inventory, '-o', join(dir, 'ours'), '--mtime', '1700000000'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const oursMs = performance.now() - t1;
  const perLoop = loopMs / loopVms;
  const perOurs = oursMs / loopVms;
  console.log(`${loopVms} VMs with a qcow2 overlay each: shell loop (genisoimage + qemu-img create + virt-install --print-xml) ${perLoop.toFixed(0)} ms/VM, contextgen batch (binary, whole process) ${perOurs.toFixed(1)} ms/VM: ${(perLoop / perOurs).toFixed(1)}x (target >= 10x: ${perLoop / perOurs >= 10 ? 'met' : 'MISSED'})`);
}

/**
 * Identity step benchmark: facts + plan + new host keys made in-process (what the agent does on a new
 * instance) vs OpenSSH's own `ssh-keygen`, which is what openssh-server's postinst and cloud-init run
 * (`ssh-keygen -A` for Debian's default three types). For an image with only an ed25519 key and for
 * rsa+ecdsa+ed25519. Run: `npx tsx bench/identity.ts`. Reports; exits non-zero only on error.
 * The figure under emulation comes from the VM suite (test/vm/signed-identity.test.ts prints status.json's).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { planIdentity, systemRandom } from '../agent/src/steps/identity.js';
import { gatherIdentityFacts, rootView } from '../agent/src/system/identity-facts.js';
import { RootFs } from '../lib/fs/index.js';

const TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;

/** A root as a Debian image with openssh-server has it: committed machine-id, sshd, the host keys. */
function imageRoot(types: readonly string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'bench-identity-'));
  mkdirSync(join(root, 'etc/ssh'), { recursive: true });
  mkdirSync(join(root, 'usr/sbin'), { recursive: true });
  writeFileSync(join(root, 'etc/machine-id'), '5c3f1e0a9b8d4c7e8f6a5b4c3d2e1f00\n');
  writeFileSync(join(root, 'usr/sbin/sshd'), '#!/bin/sh\n', { mode: 0o755 });
  execFileSync('ssh-keygen', ['-A', '-f', root]);
  for (const t of TYPES) if (!types.includes(t)) for (const ext of ['', '.pub']) unlinkSync(join(root, `etc/ssh/ssh_host_${t}_key${ext}`));
  return root;
}

function median(samples: number[]): number {
  return [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

function time(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export interface IdentityBenchRow {
  case: string;
  n: number;
  oursMs: number;
  sshKeygenMs: number;
}

export function runIdentityBench(): IdentityBenchRow[] {
  const rows: IdentityBenchRow[] = [];
  for (const [name, types, n] of [['ed25519 only', ['ed25519'], 21], ['rsa+ecdsa+ed25519', TYPES, 5]] as const) {
    const root = imageRoot(types);
    const fs = new RootFs(root);
    const ours = () => {
      const p = planIdentity(gatherIdentityFacts(rootView(fs)), {}, systemRandom);
      if (p.hostKeys.length !== types.length) throw new Error(`planned ${p.hostKeys.length} keys, expected ${types.length}`);
    };
    ours(); // module init and the first use of crypto are not the step's cost
    const peerDir = mkdtempSync(join(tmpdir(), 'bench-identity-peer-'));
    const peer = () => {
      rmSync(join(peerDir, 'etc'), { recursive: true, force: true });
      mkdirSync(join(peerDir, 'etc/ssh'), { recursive: true });
      // The peer makes exactly the same types: -A for all three, ssh-keygen -t for ed25519 alone.
      if (types.length === TYPES.length) execFileSync('ssh-keygen', ['-A', '-f', peerDir]);
      else execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(peerDir, 'etc/ssh/ssh_host_ed25519_key')]);
    };
    const oursMs: number[] = [];
    const peerMs: number[] = [];
    for (let i = 0; i < n; i++) {
      oursMs.push(time(ours));
      peerMs.push(time(peer));
    }
    rows.push({ case: name, n, oursMs: median(oursMs), sshKeygenMs: median(peerMs) });
    rmSync(root, { recursive: true, force: true });
    rmSync(peerDir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = runIdentityBench();
  console.log('identity step: facts + plan + new host keys (ours, in-process) vs ssh-keygen (OpenSSH, a process), medians');
  console.log(['case'.padEnd(18), 'n'.padStart(3), 'ours ms'.padStart(9), 'ssh-keygen ms'.padStart(14)].join('  '));
  for (const r of rows) console.log([r.case.padEnd(18), String(r.n).padStart(3), r.oursMs.toFixed(1).padStart(9), r.sshKeygenMs.toFixed(1).padStart(14)].join('  '));
  console.log('RSA 3072 prime search dominates the three-type case and varies a lot from run to run; the ed25519-only image is the fast clone.');
}

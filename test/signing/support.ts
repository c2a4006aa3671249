/** Helpers for the signing suites: keys, signed ISOs from contextgen, real-tool copies and read-back. */
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openIso } from '../../lib/iso9660/index.js';
import { formatPrivateKey, formatPublicKey, generateKeyPair, inputFromIso, type PrivateKey, type SignedInput } from '../../lib/signing/index.js';
import { tempDir } from '../host-tools/helpers.js';

export const VM_UUID = '6f1c2a9e-3b7d-4c2e-9a51-0d6b2f8e4c11';
export const OTHER_UUID = '0b8e53d4-91a2-4f36-8c7e-5d2a1b9c3e70';
export const MAC = '52:54:00:12:34:56';
export const MAC2 = '52:54:00:ab:cd:ef';

/** A key pair written as contextgen keygen would (private 0600). */
export function writeKeyPair(dir: string, name: string): { key: PrivateKey; priv: string; pub: string } {
  const key = generateKeyPair(`${name}@test`);
  const priv = join(dir, name);
  writeFileSync(priv, formatPrivateKey(key), { mode: 0o600 });
  chmodSync(priv, 0o600);
  writeFileSync(`${priv}.pub`, formatPublicKey(key.publicKey));
  return { key, priv, pub: `${priv}.pub` };
}

/** What the agent's in-process reader sees: files with Rock Ridge modes and the label. */
export function readInput(iso: string): SignedInput {
  const img = openIso(iso);
  try {
    return inputFromIso(img);
  } finally {
    img.close();
  }
}

/** The ISO's tree extracted by xorriso (an independent reader; keeps Rock Ridge modes). */
export function extract(iso: string): string {
  const dir = join(tempDir('sig-x-'), 'tree');
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', dir], { stdio: 'ignore' });
  // xorriso restores directories read-only (0555 from -r images): let the test edit the tree.
  execFileSync('chmod', ['-R', 'u+w', dir]);
  return dir;
}

/** genisoimage's image of `dir` (flags e.g. ['-R', '-J'] or ['-r', '-J']). */
export function genisoimage(dir: string, flags: string[], label = 'CONTEXT'): string {
  const out = join(tempDir('sig-g-'), 'copy.iso');
  execFileSync('genisoimage', ['-quiet', '-V', label, ...flags, '-o', out, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

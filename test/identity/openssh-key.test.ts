/**
 * lib/ssh/openssh-key.ts against the real OpenSSH: ssh-keygen must read our private keys (-y gives our
 * .pub back), print our fingerprint (-l), and a signature made with our private key must verify with
 * our public line (-Y sign / -Y verify), which proves the private half, not just the container.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describePublicLine, ecdsaFromRandom, ed25519FromSeed, openSshKeyFiles } from '../../lib/ssh/openssh-key.js';
import { baseHostKeys, cleanup, tmp } from './fixtures.js';

afterAll(cleanup);

const keygen = (args: string[], input?: string) => execFileSync('ssh-keygen', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

const CASES = [
  { name: 'ed25519', key: () => ed25519FromSeed(randomBytes(32)), algorithm: 'ssh-ed25519', bits: '256', label: 'ED25519' },
  { name: 'ecdsa-256', key: () => ecdsaFromRandom('nistp256', randomBytes), algorithm: 'ecdsa-sha2-nistp256', bits: '256', label: 'ECDSA' },
  { name: 'ecdsa-384', key: () => ecdsaFromRandom('nistp384', randomBytes), algorithm: 'ecdsa-sha2-nistp384', bits: '384', label: 'ECDSA' },
  { name: 'ecdsa-521', key: () => ecdsaFromRandom('nistp521', randomBytes), algorithm: 'ecdsa-sha2-nistp521', bits: '521', label: 'ECDSA' },
  { name: 'rsa-3072', key: () => generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey, algorithm: 'ssh-rsa', bits: '3072', label: 'RSA' },
];

describe('openssh-key-v1 files read by ssh-keygen', () => {
  for (const c of CASES) {
    it(`${c.name}: -y, -l and a signature agree with our files`, () => {
      const dir = tmp('sshkey-');
      const f = openSshKeyFiles(c.key(), 'root@clone-1', 0xdeadbeef);
      const priv = join(dir, 'key');
      writeFileSync(priv, f.privateKey, { mode: 0o600 });
      writeFileSync(`${priv}.pub`, f.publicLine);
      expect(f.algorithm).toBe(c.algorithm);
      expect(f.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,70}\n)+-----END OPENSSH PRIVATE KEY-----\n$/);

      // -y derives the public key from the private file (for RSA/ECDSA from the private numbers).
      const derived = keygen(['-y', '-f', priv]).trim().split(' ').slice(0, 2).join(' ');
      expect(derived).toBe(f.publicLine.trim().split(' ').slice(0, 2).join(' '));
      // -l prints "<bits> <fingerprint> <comment> (<TYPE>)" for the private and the public file.
      expect(keygen(['-l', '-f', priv]).trim()).toBe(`${c.bits} ${f.fingerprint} root@clone-1 (${c.label})`);
      expect(keygen(['-l', '-f', `${priv}.pub`]).trim()).toBe(`${c.bits} ${f.fingerprint} root@clone-1 (${c.label})`);

      const msg = join(dir, 'msg');
      writeFileSync(msg, 'a new machine\n');
      keygen(['-Y', 'sign', '-f', priv, '-n', 'file', msg]);
      // verify checks the signature against the key listed for the principal (check-novalidate would
      // only use the key embedded in the signature).
      const verify = (pub: string) => {
        writeFileSync(join(dir, 'allowed'), `admin@example ${pub.trim().split(' ').slice(0, 2).join(' ')}\n`);
        return keygen(['-Y', 'verify', '-f', join(dir, 'allowed'), '-I', 'admin@example', '-n', 'file', '-s', `${msg}.sig`], 'a new machine\n');
      };
      expect(verify(f.publicLine)).toMatch(/Good "file" signature for admin@example/);
      // Another key of the same type must not verify it (the check above is not vacuous).
      expect(() => verify(openSshKeyFiles(c.key(), 'x', 1).publicLine)).toThrow();
    });
  }

  it('the private section is padded to 8 bytes with 1, 2, 3, ... and carries the check int twice', () => {
    const f = openSshKeyFiles(ed25519FromSeed(Buffer.alloc(32, 7)), 'c', 0x01020304);
    const body = Buffer.from(f.privateKey.split('\n').slice(1, -2).join(''), 'base64');
    expect(body.subarray(0, 15).toString('latin1')).toBe('openssh-key-v1\0');
    // magic, "none", "none", "", nkeys=1, public blob, then the private section.
    let off = 15;
    const str = () => { const n = body.readUInt32BE(off); const s = body.subarray(off + 4, off + 4 + n); off += 4 + n; return s; };
    expect([str().toString(), str().toString(), str().length]).toEqual(['none', 'none', 0]);
    expect(body.readUInt32BE(off)).toBe(1);
    off += 4;
    str();
    const section = str();
    expect(off).toBe(body.length);
    expect(section.length % 8).toBe(0);
    expect(section.readUInt32BE(0)).toBe(0x01020304);
    expect(section.readUInt32BE(4)).toBe(0x01020304);
    // 4+4 checkints, ssh-ed25519 (4+11), pub (4+32), priv (4+64), comment (4+1) = 132 -> padded to 136.
    expect([...section.subarray(132)]).toEqual([1, 2, 3, 4]);
  });

  it('the same seed gives the same key (pure), another seed another key', () => {
    const a = openSshKeyFiles(ed25519FromSeed(Buffer.alloc(32, 1)), 'c', 5);
    const b = openSshKeyFiles(ed25519FromSeed(Buffer.alloc(32, 1)), 'c', 5);
    const c = openSshKeyFiles(ed25519FromSeed(Buffer.alloc(32, 2)), 'c', 5);
    expect(a).toEqual(b);
    expect(c.fingerprint).not.toBe(a.fingerprint);
  });

  it('ECDSA rejects scalars outside [1, n-1] and draws again', () => {
    const draws = [Buffer.alloc(32, 0xff), Buffer.alloc(32, 0), Buffer.alloc(32, 0x11)];
    const key = ecdsaFromRandom('nistp256', () => draws.shift()!);
    expect(draws).toEqual([]);
    expect(Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url')).toEqual(Buffer.alloc(32, 0x11));
    expect(() => ecdsaFromRandom('nistp256', () => Buffer.alloc(32, 0))).toThrow(/no valid ECDSA scalar/);
  });

  it('describePublicLine reads the type and RSA size of ssh-keygen\'s own .pub files', () => {
    const dir = baseHostKeys();
    const read = (t: string) => describePublicLine(readFileSync(join(dir, `ssh_host_${t}_key.pub`), 'utf8'));
    expect(read('rsa')).toEqual({ algorithm: 'ssh-rsa', rsaBits: 3072 });
    expect(read('ecdsa')).toEqual({ algorithm: 'ecdsa-sha2-nistp256' });
    expect(read('ed25519')).toEqual({ algorithm: 'ssh-ed25519' });
    expect(describePublicLine('ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHmVmvHxQb7rHj6l0h0l1Vx8t2nQ2wX9Yk1xg7c5Q0Zz')).toBeUndefined(); // blob says ed25519
    expect(describePublicLine('garbage')).toBeUndefined();
  });

  it('refuses a comment that would break the .pub line', () => {
    expect(() => openSshKeyFiles(ed25519FromSeed(Buffer.alloc(32, 1)), 'a\nssh-rsa AAAA evil', 1)).toThrow(/one line/);
  });
});

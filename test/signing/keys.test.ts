/**
 * Key files: the one-line formats parsed strictly (each refusal one exact line naming the file), and
 * signatures checked by an independent Ed25519 implementation (OpenSSL) so the format is plain Ed25519.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContextError } from '../../lib/context/errors.js';
import {
  encodeManifest, formatPrivateKey, formatPublicKey, generateKeyPair, parsePrivateKey, parsePublicKey, signManifest, type PrivateKey,
} from '../../lib/signing/index.js';
import { tempDir } from '../host-tools/helpers.js';

let key: PrivateKey;
let pub: string;
let priv: string;
beforeAll(() => {
  key = generateKeyPair('ops@site');
  pub = formatPublicKey(key.publicKey);
  priv = formatPrivateKey(key);
});

const why = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof ContextError) return e.message;
    throw e;
  }
  throw new Error('expected a refusal');
};

describe('key formats', () => {
  it('round-trip; the key id is the first 16 hex of sha256 of the raw key', () => {
    const [type, b64, id, comment] = pub.trimEnd().split(' ');
    expect(type).toBe('contextualization-ed25519');
    expect(id).toBe(createHash('sha256').update(Buffer.from(b64!, 'base64')).digest('hex').slice(0, 16));
    expect(comment).toBe('ops@site');
    expect(pub).toMatch(/^contextualization-ed25519 [A-Za-z0-9+/]{43}= [0-9a-f]{16} ops@site\n$/);
    expect(priv).toMatch(/^contextualization-ed25519-private [A-Za-z0-9+/]{43}= [0-9a-f]{16} ops@site\n$/);
    expect(parsePublicKey(pub, 'k.pub').raw).toEqual(key.publicKey.raw);
    expect(parsePrivateKey(priv, 'k').keyId).toBe(key.keyId);
    expect(parsePublicKey(pub.trimEnd(), 'k.pub').keyId).toBe(key.keyId); // final newline optional
    const bare = generateKeyPair();
    expect(formatPublicKey(bare.publicKey)).toMatch(/^\S+ \S+ [0-9a-f]{16}\n$/);
  });

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  /** The same 32 bytes spelled with non-zero padding bits: decodes alike, but is not the canonical spelling. */
  const nonCanonical = (p: string) => p.replace(/ (\S{42})(\S)= /, (_m, a: string, c: string) => ` ${a}${B64[B64.indexOf(c) + 1]}= `);
  it.each([
    ['empty', () => '', () => 'k.pub: empty; expected one key line'],
    ['two lines', (p: string) => p + p, () => 'k.pub: more than one line; a key file holds exactly one key line'],
    ['CRLF', (p: string) => p.replace('\n', '\r\n'), () => 'k.pub: contains a carriage return (CRLF line end?)'],
    ['double space', (p: string) => p.replace(' ', '  '), () => 'k.pub: line 1: expected "contextualization-ed25519 BASE64 KEYID [COMMENT]" separated by single spaces'],
    ['the private key', (_p: string, k: string) => k, () => 'k.pub: line 1: key type "contextualization-ed25519-private" is not contextualization-ed25519 (this is a private key; give the .pub file)'],
    ['an OpenSSH key', (p: string) => p.replace('contextualization-ed25519', 'ssh-ed25519'), () => 'k.pub: line 1: key type "ssh-ed25519" is not contextualization-ed25519 (an OpenSSH key; make one with contextgen keygen)'],
    ['non-canonical base64', nonCanonical, () => 'k.pub: line 1: the key is not the canonical base64 of 32 bytes'],
    ['a short key', (p: string) => p.replace(/ (\S+) /, ` ${Buffer.alloc(31, 7).toString('base64')} `), () => 'k.pub: line 1: the key is not the canonical base64 of 32 bytes'],
    ['a wrong key id', (p: string) => p.replace(/ [0-9a-f]{16} /, ' 0123456789abcdef '), () => `k.pub: line 1: key id 0123456789abcdef does not match the key (its id is ${key.keyId})`],
    ['an upper-case key id', (p: string) => p.replace(/ ([0-9a-f]{16}) /, (_m, x: string) => ` ${x.toUpperCase()} `), () => `k.pub: line 1: key id "${key.keyId.toUpperCase()}" is not 16 lower-case hex digits`],
    ['a control character in the comment', (p: string) => p.replace('ops@site', 'ops\u001b[2J'), () => 'k.pub: line 1: comment contains a control or bidi character'],
    ['a huge file', () => 'x'.repeat(5000), () => 'k.pub: 5000 bytes; a key file is one short line (at most 4096)'],
  ])('refuses %s', (_what, mutate, expected) => {
    expect(why(() => parsePublicKey(mutate(pub, priv), 'k.pub'))).toBe(expected());
  });

  it('the non-canonical spelling really decodes to the same key (so only the spelling is refused)', () => {
    const spelled = nonCanonical(pub).split(' ')[1]!;
    expect(spelled).not.toBe(pub.split(' ')[1]);
    expect(Buffer.from(spelled, 'base64')).toEqual(key.publicKey.raw);
  });

  it('a private key paired with another key id, and a public key given as the private one', () => {
    const other = generateKeyPair();
    expect(why(() => parsePrivateKey(priv.replace(key.keyId, other.keyId), 'k'))).toBe(`k: line 1: key id ${other.keyId} does not match the key (its id is ${key.keyId})`);
    expect(why(() => parsePrivateKey(pub, 'k'))).toBe('k: line 1: key type "contextualization-ed25519" is not contextualization-ed25519-private (this is a public key; give the private key file)');
  });
});

describe('signatures are plain Ed25519', () => {
  it('OpenSSL verifies a manifest signature with the public key from the .pub file, and rejects a changed manifest', () => {
    const dir = tempDir('sig-openssl-');
    const m = { version: 1 as const, label: 'CONTEXT', instanceId: 'x1', macs: [], files: [{ path: 'common/network', mode: 0o444 as const, size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }] };
    const file = signManifest(m, key).toString('utf8');
    const body = encodeManifest(m);
    const sig = Buffer.from(file.trimEnd().split('\n').pop()!.split(' ')[3]!, 'base64');
    // SubjectPublicKeyInfo for Ed25519 (RFC 8410) around the raw key from the .pub line.
    const raw = Buffer.from(pub.split(' ')[1]!, 'base64');
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
    writeFileSync(join(dir, 'pub.der'), spki);
    writeFileSync(join(dir, 'msg'), body);
    writeFileSync(join(dir, 'sig'), sig);
    const verify = (msg: string) =>
      execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-keyform', 'DER', '-inkey', join(dir, 'pub.der'), '-rawin', '-in', msg, '-sigfile', join(dir, 'sig')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(verify(join(dir, 'msg'))).toContain('Signature Verified Successfully');
    writeFileSync(join(dir, 'msg2'), Buffer.concat([body, Buffer.from('x')]));
    expect(() => verify(join(dir, 'msg2'))).toThrow();
  });
});

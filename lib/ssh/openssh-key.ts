/**
 * OpenSSH key files from node:crypto keys: the unencrypted `openssh-key-v1` private key (what
 * `ssh-keygen` writes since 7.8), the `.pub` line and the SHA256 fingerprint as `ssh-keygen -l` prints it.
 *
 * Hand-written because node:crypto exports only PEM/DER/JWK and no npm package in this project does
 * the OpenSSH container; the format is small (PROTOCOL.key in OpenSSH) and proven against the real
 * `ssh-keygen -y` / `-l` in test/identity/openssh-key.test.ts.
 *
 * Ed25519 and ECDSA keys are built from caller-given random bytes (so a planner stays pure and a test
 * reproducible); RSA cannot be derived from bytes with node:crypto, so its KeyObject is passed in.
 */
import { createECDH, createHash, createPrivateKey, type KeyObject } from 'node:crypto';

export type EcdsaCurve = 'nistp256' | 'nistp384' | 'nistp521';

const CURVES: Record<EcdsaCurve, { openssl: string; jwk: string; bytes: number; order: bigint }> = {
  nistp256: { openssl: 'prime256v1', jwk: 'P-256', bytes: 32, order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  nistp384: {
    openssl: 'secp384r1', jwk: 'P-384', bytes: 48,
    order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  nistp521: {
    openssl: 'secp521r1', jwk: 'P-521', bytes: 66,
    order: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
};

export interface OpenSshKeyFiles {
  /** Key type as written in the .pub line, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  algorithm: string;
  /** The private key file (PEM armour around openssh-key-v1), ending in a newline. */
  privateKey: string;
  /** `algorithm base64 comment\n`. */
  publicLine: string;
  /** `SHA256:` + unpadded base64 of the public blob's SHA-256, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

// --- SSH wire encoding (RFC 4251 section 5) ---

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  return Buffer.concat([u32(b.length), b]);
}

/** mpint: big-endian two's complement, minimal; a positive number whose top bit is set gets a 0 byte in front. */
function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length && unsigned[i] === 0) i++;
  let b = unsigned.subarray(i);
  if (b.length > 0 && (b[0]! & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

function b64url(s: string | undefined, what: string): Buffer {
  if (typeof s !== 'string') throw new Error(`openssh-key: the key has no JWK "${what}"`);
  return Buffer.from(s, 'base64url');
}

/** Public blob and the private fields (after the type string) of one key, from its JWK. */
function keyParts(key: KeyObject): { algorithm: string; publicBlob: Buffer; privateFields: Buffer } {
  if (key.type !== 'private') throw new Error('openssh-key: a private key is needed');
  const jwk = key.export({ format: 'jwk' });
  const kind = key.asymmetricKeyType;
  if (kind === 'ed25519') {
    const pub = b64url(jwk.x, 'x');
    const seed = b64url(jwk.d, 'd');
    const algorithm = 'ssh-ed25519';
    return {
      algorithm,
      publicBlob: Buffer.concat([sshString(algorithm), sshString(pub)]),
      // OpenSSH keeps the 64-byte "secret key" of ref10: seed followed by the public key.
      privateFields: Buffer.concat([sshString(pub), sshString(Buffer.concat([seed, pub]))]),
    };
  }
  if (kind === 'ec') {
    const curve = (Object.keys(CURVES) as EcdsaCurve[]).find((c) => CURVES[c].jwk === jwk.crv);
    if (!curve) throw new Error(`openssh-key: unsupported EC curve ${jwk.crv}`);
    const size = CURVES[curve].bytes;
    const pad = (b: Buffer) => Buffer.concat([Buffer.alloc(size - b.length), b]);
    const point = Buffer.concat([Buffer.from([4]), pad(b64url(jwk.x, 'x')), pad(b64url(jwk.y, 'y'))]);
    const algorithm = `ecdsa-sha2-${curve}`;
    return {
      algorithm,
      publicBlob: Buffer.concat([sshString(algorithm), sshString(curve), sshString(point)]),
      privateFields: Buffer.concat([sshString(curve), sshString(point), mpint(b64url(jwk.d, 'd'))]),
    };
  }
  if (kind === 'rsa') {
    const [n, e, d, p, q, qi] = (['n', 'e', 'd', 'p', 'q', 'qi'] as const).map((k) => b64url(jwk[k], k)) as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
    const algorithm = 'ssh-rsa';
    return {
      algorithm,
      publicBlob: Buffer.concat([sshString(algorithm), mpint(e), mpint(n)]),
      // OpenSSH order: n e d iqmp p q, where iqmp = q^-1 mod p (JWK's "qi").
      privateFields: Buffer.concat([mpint(n), mpint(e), mpint(d), mpint(qi), mpint(p), mpint(q)]),
    };
  }
  throw new Error(`openssh-key: unsupported key type ${kind}`);
}

export function fingerprintOfBlob(publicBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The OpenSSH files of `key`. `checkInt` is the 32-bit value repeated in the private section (random
 * in ssh-keygen, so that a wrong passphrase is detected; it must be given here to keep callers pure).
 */
export function openSshKeyFiles(key: KeyObject, comment: string, checkInt: number): OpenSshKeyFiles {
  if (/[\r\n]/.test(comment)) throw new Error('openssh-key: the comment must be one line');
  const { algorithm, publicBlob, privateFields } = keyParts(key);
  let section = Buffer.concat([u32(checkInt), u32(checkInt), sshString(algorithm), privateFields, sshString(comment)]);
  // Padded with 1, 2, 3, ... to the cipher block size (8 for "none").
  const padLen = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'), sshString('none'), sshString(''),
    u32(1), sshString(publicBlob), sshString(section),
  ]);
  const b64 = body.toString('base64').replace(/.{70}/g, '$&\n').replace(/\n$/, '');
  return {
    algorithm,
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicLine: `${algorithm} ${publicBlob.toString('base64')}${comment ? ` ${comment}` : ''}\n`,
    fingerprint: fingerprintOfBlob(publicBlob),
  };
}

/** An Ed25519 private key from a 32-byte seed (RFC 8032's private key). */
export function ed25519FromSeed(seed: Buffer): KeyObject {
  if (seed.length !== 32) throw new Error(`openssh-key: an Ed25519 seed is 32 bytes, got ${seed.length}`);
  // PKCS#8 of an Ed25519 key is a fixed 16-byte prefix followed by the seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/**
 * An ECDSA private key from random bytes: `bytes(n)` is called until it yields a scalar in [1, order-1]
 * (one call in all but ~2^-32 of cases; P-521 masks the top bits as its order has 521 of them).
 */
export function ecdsaFromRandom(curve: EcdsaCurve, bytes: (n: number) => Buffer): KeyObject {
  const c = CURVES[curve];
  for (let i = 0; i < 64; i++) {
    const d = Buffer.from(bytes(c.bytes));
    if (curve === 'nistp521') d[0] = d[0]! & 0x01;
    const v = BigInt(`0x${d.toString('hex')}`);
    if (v === 0n || v >= c.order) continue;
    const ecdh = createECDH(c.openssl);
    ecdh.setPrivateKey(d);
    const pub = ecdh.getPublicKey();
    const half = (pub.length - 1) / 2;
    return createPrivateKey({
      key: { kty: 'EC', crv: c.jwk, d: d.toString('base64url'), x: pub.subarray(1, 1 + half).toString('base64url'), y: pub.subarray(1 + half).toString('base64url') },
      format: 'jwk',
    });
  }
  throw new Error('openssh-key: the random source gave no valid ECDSA scalar in 64 tries');
}

/** What a `.pub` line says: its algorithm and, for RSA, the modulus size in bits. Undefined when unreadable. */
export function describePublicLine(line: string): { algorithm: string; rsaBits?: number } | undefined {
  const m = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s|$)/.exec(line);
  if (!m) return undefined;
  const blob = Buffer.from(m[2]!, 'base64');
  const fields: Buffer[] = [];
  for (let off = 0; off + 4 <= blob.length && fields.length < 3;) {
    const len = blob.readUInt32BE(off);
    if (off + 4 + len > blob.length) return undefined;
    fields.push(blob.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  const algorithm = fields[0]?.toString('latin1');
  if (algorithm === undefined || algorithm !== m[1]) return undefined;
  if (algorithm !== 'ssh-rsa') return { algorithm };
  const n = fields[2];
  if (!n) return undefined;
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  const top = n[i] ?? 0;
  return { algorithm, rsaBits: (n.length - i - 1) * 8 + (top ? 32 - Math.clz32(top) : 0) };
}

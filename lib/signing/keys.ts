/**
 * Ed25519 keys for signed contexts, in two one-line text formats (node:crypto only):
 *
 *   public:  contextualization-ed25519 <base64 of the raw 32-byte key> <key id> [comment]
 *   private: contextualization-ed25519-private <base64 of the raw 32-byte seed> <key id> [comment]
 *
 * The key id is the first 16 hex digits of sha256(raw public key). It names the key in signatures,
 * logs and status; the private file repeats it so a seed paired with the wrong id is caught on load.
 * Parsing is strict (one line, single spaces, canonical base64, matching id): a key file is trust.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ContextError } from '../context/errors.js';

export const PUBLIC_KEY_TYPE = 'contextualization-ed25519';
export const PRIVATE_KEY_TYPE = 'contextualization-ed25519-private';
/** Longest comment accepted; comments are for people (ssh-style user@host), not data. */
const MAX_COMMENT = 200;
const MAX_KEY_FILE = 4096;

export interface PublicKey {
  keyId: string;
  /** The raw 32-byte Ed25519 public key. */
  raw: Buffer;
  key: KeyObject;
  comment?: string;
}

export interface PrivateKey {
  keyId: string;
  key: KeyObject;
  publicKey: PublicKey;
  comment?: string;
}

/** First 16 hex digits of sha256 over the raw 32-byte public key. */
export function keyIdOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** Strict base64 of exactly `bytes` bytes: the canonical encoding only, so one key has one spelling. */
export function decodeBase64Exact(text: string, bytes: number): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const b = Buffer.from(text, 'base64');
  return b.length === bytes && b.toString('base64') === text ? b : undefined;
}

function commentProblem(c: string): string | undefined {
  if (c.length > MAX_COMMENT) return `comment is longer than ${MAX_COMMENT} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(c)) return 'comment contains a control or bidi character';
  if (c !== c.trim() || c.includes('  ')) return 'comment has leading, trailing or doubled spaces';
  return undefined;
}

export function checkComment(c: string | undefined): string | undefined {
  return c === undefined || c === '' ? undefined : commentProblem(c);
}

function publicFromRaw(raw: Buffer, comment?: string): PublicKey {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  return { keyId: keyIdOf(raw), raw, key, comment };
}

/** RFC 8410 PKCS#8 wrapping of a raw Ed25519 seed: the one import form every Node >= 12 takes without the public half. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateFromSeed(seed: Buffer, comment?: string): PrivateKey {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return wrapPrivate(key, comment);
}

function wrapPrivate(key: KeyObject, comment?: string): PrivateKey {
  const raw = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
  const publicKey = publicFromRaw(raw, comment);
  return { keyId: publicKey.keyId, key, publicKey, comment };
}

/** A fresh key pair. */
export function generateKeyPair(comment?: string): PrivateKey {
  const why = checkComment(comment);
  if (why) throw new ContextError([{ file: '<command line>', key: '--comment', value: comment, why }]);
  return wrapPrivate(generateKeyPairSync('ed25519').privateKey, comment || undefined);
}

const line = (type: string, b64: string, id: string, comment?: string) => `${type} ${b64} ${id}${comment ? ` ${comment}` : ''}\n`;

export function formatPublicKey(k: PublicKey): string {
  return line(PUBLIC_KEY_TYPE, k.raw.toString('base64'), k.keyId, k.comment);
}

export function formatPrivateKey(k: PrivateKey): string {
  const seed = Buffer.from(k.key.export({ format: 'jwk' }).d!, 'base64url');
  return line(PRIVATE_KEY_TYPE, seed.toString('base64'), k.keyId, k.comment);
}

/** Splits a key file into its fields, or says on one line why it is not one. */
function keyFields(text: Buffer | string, file: string, type: string): { b64: string; id: string; comment?: string } {
  const fail = (why: string): never => {
    throw new ContextError([{ file, why }]);
  };
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  if (buf.length > MAX_KEY_FILE) fail(`${buf.length} bytes; a key file is one short line (at most ${MAX_KEY_FILE})`);
  const s = buf.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(buf)) fail('not valid UTF-8');
  const body = s.endsWith('\n') ? s.slice(0, -1) : s;
  if (body.includes('\n')) fail('more than one line; a key file holds exactly one key line');
  if (body.includes('\r')) fail('contains a carriage return (CRLF line end?)');
  if (body === '') fail('empty; expected one key line');
  const m = /^(\S+) (\S+) (\S+)(?: (.*))?$/.exec(body);
  if (!m) fail(`line 1: expected "${type} BASE64 KEYID [COMMENT]" separated by single spaces`);
  const [, t, b64, id, comment] = m as unknown as [string, string, string, string, string | undefined];
  if (t !== type) {
    const hint =
      t === PRIVATE_KEY_TYPE ? ' (this is a private key; give the .pub file)'
      : t === PUBLIC_KEY_TYPE ? ' (this is a public key; give the private key file)'
      : t.startsWith('ssh-') ? ' (an OpenSSH key; make one with contextgen keygen)'
      : '';
    fail(`line 1: key type ${JSON.stringify(t.slice(0, 40))} is not ${type}${hint}`);
  }
  if (!/^[0-9a-f]{16}$/.test(id)) fail(`line 1: key id ${JSON.stringify(id.slice(0, 40))} is not 16 lower-case hex digits`);
  if (comment !== undefined) {
    const why = commentProblem(comment);
    if (why) fail(`line 1: ${why}`);
  }
  return { b64, id, comment };
}

/** Parses a public key file; throws ContextError (one line naming `file`) on anything off. */
export function parsePublicKey(text: Buffer | string, file: string): PublicKey {
  const { b64, id, comment } = keyFields(text, file, PUBLIC_KEY_TYPE);
  const raw = decodeBase64Exact(b64, 32);
  if (!raw) throw new ContextError([{ file, why: 'line 1: the key is not the canonical base64 of 32 bytes' }]);
  let k: PublicKey;
  try {
    k = publicFromRaw(raw, comment);
  } catch {
    throw new ContextError([{ file, why: 'line 1: not a valid Ed25519 public key' }]);
  }
  if (k.keyId !== id) throw new ContextError([{ file, why: `line 1: key id ${id} does not match the key (its id is ${k.keyId})` }]);
  return k;
}

/** Parses a private key file; throws ContextError (one line naming `file`) on anything off. */
export function parsePrivateKey(text: Buffer | string, file: string): PrivateKey {
  const { b64, id, comment } = keyFields(text, file, PRIVATE_KEY_TYPE);
  const seed = decodeBase64Exact(b64, 32);
  if (!seed) throw new ContextError([{ file, why: 'line 1: the seed is not the canonical base64 of 32 bytes' }]);
  const k = privateFromSeed(seed, comment);
  if (k.keyId !== id) throw new ContextError([{ file, why: `line 1: key id ${id} does not match the key (its id is ${k.keyId})` }]);
  return k;
}

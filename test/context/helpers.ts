import { generateKeyPairSync } from 'node:crypto';
import { ContextError, formatProblem, parseContext, type Context, type ContextFiles } from '../../lib/context/index.js';

export function files(o: Record<string, string | Buffer>): ContextFiles {
  return new Map(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? Buffer.from(v, 'utf8') : v]));
}

/** The formatted problems parseContext reports (one string per problem), or [] when it parses. */
export function problemsOf(o: Record<string, string | Buffer>): string[] {
  try {
    parseContext(files(o));
    return [];
  } catch (e) {
    if (!(e instanceof ContextError)) throw e;
    return e.problems.map(formatProblem);
  }
}

export function parse(o: Record<string, string | Buffer>): Context {
  return parseContext(files(o));
}

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function mpint(b: Buffer): Buffer {
  return sshString(b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** A real OpenSSH public key line made from a freshly generated key pair. */
export function sshKey(type: 'ed25519' | 'rsa', comment?: string): string {
  let blob: Buffer;
  let name: string;
  if (type === 'ed25519') {
    const { publicKey } = generateKeyPairSync('ed25519');
    const x = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    name = 'ssh-ed25519';
    blob = Buffer.concat([sshString(Buffer.from(name)), sshString(x)]);
  } else {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = publicKey.export({ format: 'jwk' });
    name = 'ssh-rsa';
    blob = Buffer.concat([sshString(Buffer.from(name)), mpint(Buffer.from(jwk.e!, 'base64url')), mpint(Buffer.from(jwk.n!, 'base64url'))]);
  }
  return `${name} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

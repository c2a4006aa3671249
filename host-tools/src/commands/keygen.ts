/**
 * `contextgen keygen -o NAME`: an Ed25519 key pair for signed contexts. NAME holds the private key
 * (0600), NAME.pub the public key to bake into images (`contextualization install --trust-key`).
 * Both land or neither does; existing files are kept unless --force.
 */
import { resolve } from 'node:path';
import { ContextError, type Problem } from '../../../lib/context/errors.js';
import { formatPrivateKey, formatPublicKey, generateKeyPair, type PrivateKey } from '../../../lib/signing/index.js';
import { exists, WriteTxn, type Io } from '../io.js';

export interface KeygenOptions {
  out: string;
  comment?: string;
  force?: boolean;
}

export interface KeygenResult {
  privatePath: string;
  publicPath: string;
  key: PrivateKey;
}

export async function runKeygen(o: KeygenOptions, io: Io): Promise<KeygenResult> {
  const privatePath = resolve(io.cwd, o.out);
  const publicPath = `${privatePath}.pub`;
  const problems: Problem[] = [];
  if (!o.force) for (const p of [privatePath, publicPath]) if (await exists(p)) problems.push({ file: p, why: 'exists; use --force to overwrite' });
  if (problems.length) throw new ContextError(problems);
  const key = generateKeyPair(o.comment);
  const txn = new WriteTxn(!!o.force);
  try {
    await txn.writeFile(privatePath, formatPrivateKey(key), 0o600);
    await txn.writeFile(publicPath, formatPublicKey(key.publicKey), 0o644);
    await txn.commit();
  } catch (e) {
    await txn.rollback();
    throw e;
  }
  return { privatePath, publicPath, key };
}

export function keygenSummary(r: KeygenResult): string {
  return `wrote ${r.privatePath} (private, 0600) and ${r.publicPath}: key id ${r.key.keyId}`;
}

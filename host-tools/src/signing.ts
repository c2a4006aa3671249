/**
 * Host-side glue for signed contexts (lib/signing does the format): loading key files, turning the
 * signing flags (or a batch VM's UUID and MAC) into a binding, and adding the signature file to the
 * files about to be written. Shared by `contextgen iso`, `batch` and `inspect`.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ContextError, type Problem } from '../../lib/context/errors.js';
import type { ContextFiles } from '../../lib/context/model.js';
import {
  formatTime,
  inputFromFiles,
  normalizeUuid,
  parsePrivateKey,
  parsePublicKey,
  signContext,
  SIGNATURE_PATH,
  type Binding,
  type Manifest,
  type PrivateKey,
  type PublicKey,
} from '../../lib/signing/index.js';
import { isoFileMode } from './context-build.js';
import { checkMac } from './mac.js';
import { checkInt, checkMtime, type Checked } from './values.js';

const CLI = '<command line>';

async function readKeyFile(cwd: string, path: string, file: string, key: string): Promise<{ text: Buffer; mode: number; full: string }> {
  const full = resolve(cwd, path);
  try {
    const [text, st] = await Promise.all([readFile(full), stat(full)]);
    return { text, mode: st.mode & 0o777, full };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ContextError([{ file, key, value: path, why: `cannot read: ${err.code ?? err.message}` }], { cause: e });
  }
}

/** A private key file; refused when others may read it (as ssh does), since it can sign root scripts. */
export async function loadPrivateKeyFile(cwd: string, path: string, file = CLI, key = '--sign-key'): Promise<PrivateKey> {
  const { text, mode, full } = await readKeyFile(cwd, path, file, key);
  if (mode & 0o077) {
    throw new ContextError([{ file: full, why: `private key is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it` }]);
  }
  return parsePrivateKey(text, full);
}

export async function loadPublicKeyFile(cwd: string, path: string, file = CLI, key = '--verify-key'): Promise<PublicKey> {
  const { text, full } = await readKeyFile(cwd, path, file, key);
  return parsePublicKey(text, full);
}

/** --expires: an ISO 8601 date or date-time, seconds since 1970, or a duration from now (90d, 12h). */
export function checkExpires(s: string, now: Date): Checked<Date> {
  const rel = /^([1-9][0-9]{0,5})([dh])$/.exec(s.trim());
  let at: Date;
  if (rel) at = new Date(now.getTime() + Number(rel[1]) * (rel[2] === 'd' ? 86_400_000 : 3_600_000));
  else {
    // A date-time without a zone would be local time to Date.parse; expiries are UTC unless said otherwise.
    const t = s.trim();
    const c = checkMtime(/^\d{4}-\d{2}-\d{2}[T ][0-9:.]+$/.test(t) ? `${t}Z` : t);
    if (!c.ok) return { ok: false, why: 'must be an ISO 8601 date or date-time (UTC unless an offset is given), seconds since 1970, or a duration like 90d or 12h' };
    at = c.value;
  }
  at = new Date(Math.floor(at.getTime() / 1000) * 1000);
  if (at.getTime() <= now.getTime()) return { ok: false, why: `is not in the future (${formatTime(at)})` };
  return { ok: true, value: at };
}

export interface SignFlags {
  signKey?: string;
  uuid?: string;
  mac?: string[];
  expires?: string;
  serial?: string;
  anyVm?: boolean;
}

export interface Signer {
  key: PrivateKey;
  binding: Binding;
}

/**
 * The signer the flags ask for, or undefined without --sign-key. Bad values are added to `problems`
 * (all of them, one line each); a context signed for no VM needs --any-vm, said explicitly.
 */
export async function signerFromFlags(o: SignFlags, cwd: string, now: Date, problems: Problem[]): Promise<Signer | undefined> {
  const add = (key: string, value: string | undefined, why: string) => problems.push({ file: CLI, key, value, why });
  const binding: Binding = { macs: [] };
  if (o.uuid !== undefined) {
    const u = normalizeUuid(o.uuid);
    if (!u) add('--uuid', o.uuid, 'must be a non-nil UUID (8-4-4-4-12 hex digits)');
    else binding.uuid = u;
  }
  for (const m of o.mac ?? []) {
    const c = checkMac(m);
    if (!c.ok) add('--mac', m, c.why);
    else if (binding.macs.includes(c.value)) add('--mac', m, 'given twice');
    else binding.macs.push(c.value);
  }
  if (o.expires !== undefined) {
    const c = checkExpires(o.expires, now);
    if (!c.ok) add('--expires', o.expires, c.why);
    else binding.notAfter = c.value;
  }
  if (o.serial !== undefined) {
    const c = checkInt(o.serial, 0, Number.MAX_SAFE_INTEGER);
    if (!c.ok) add('--serial', o.serial, c.why);
    else binding.serial = c.value;
  }
  if (o.signKey === undefined) {
    for (const [flag, given] of [['--uuid', o.uuid], ['--mac', o.mac], ['--expires', o.expires], ['--serial', o.serial], ['--any-vm', o.anyVm]] as const) {
      if (given !== undefined && given !== false) add(flag, undefined, 'only means something with --sign-key');
    }
    return undefined;
  }
  if (o.anyVm && (o.uuid !== undefined || o.mac?.length)) add('--any-vm', undefined, 'contradicts --uuid/--mac');
  if (!o.anyVm && o.uuid === undefined && !o.mac?.length) {
    add('--sign-key', o.signKey, 'give --uuid (and --mac) of the VM the context is for, or --any-vm to sign a context every VM trusting the key accepts');
  }
  try {
    return { key: await loadPrivateKeyFile(cwd, o.signKey), binding };
  } catch (e) {
    if (!(e instanceof ContextError)) throw e;
    problems.push(...e.problems);
    return undefined;
  }
}

/** `files` plus SIGNATURE_PATH signing all of them with the modes the ISO writer gives them. */
export function signFiles(files: ContextFiles, label: string, signer: Signer, instanceId?: string): { files: ContextFiles; manifest: Manifest } {
  const unsigned = new Map([...files].filter(([p]) => p !== SIGNATURE_PATH));
  const { manifest, data } = signContext(inputFromFiles(unsigned, label, isoFileMode), signer.key, signer.binding, instanceId);
  unsigned.set(SIGNATURE_PATH, data);
  return { files: unsigned, manifest };
}

/** "signed by KEYID for uuid U, macs M, until T, serial N": one phrase for summaries and inspect. */
export function describeBinding(keyId: string, m: Manifest): string {
  const parts = [`signed by key ${keyId}`];
  parts.push(m.uuid ? `for VM ${m.uuid}` : 'for any VM UUID');
  if (m.macs.length) parts.push(`MAC${m.macs.length > 1 ? 's' : ''} ${m.macs.join(',')}`);
  parts.push(m.notAfter ? `until ${formatTime(m.notAfter)}` : 'no expiry');
  if (m.serial !== undefined) parts.push(`serial ${m.serial}`);
  parts.push(`instance ${m.instanceId}`);
  return parts.join(', ');
}

/** Batch signing: each key file read and checked once, every VM signed for its own UUID and MAC. */
export class BatchSigners {
  private readonly keys = new Map<string, Promise<PrivateKey | Problem[]>>();
  constructor(private readonly file: string) {}

  /** The VM's files with the signature added, or the problems (naming the inventory key). */
  async sign(keyPath: string, where: string, files: ContextFiles, label: string, binding: Binding, instanceId?: string): Promise<ContextFiles | Problem[]> {
    let k = this.keys.get(keyPath);
    if (!k) {
      k = loadPrivateKeyFile('/', keyPath, this.file, `${where} sign_key`).catch((e: unknown) => {
        if (e instanceof ContextError) return e.problems;
        throw e;
      });
      this.keys.set(keyPath, k);
    }
    const key = await k;
    if (Array.isArray(key)) return key;
    return signFiles(files, label, { key, binding }, instanceId).files;
  }
}

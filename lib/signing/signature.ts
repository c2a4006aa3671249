/**
 * Signing a context and verifying it against pinned keys and this VM's facts.
 *
 * The signature file (SIGNATURE_PATH) is the canonical manifest followed by one line:
 *   signature ed25519 <key id> <base64 of the 64-byte Ed25519 signature over the manifest bytes>
 * The manifest lists every other file, so the signature file is the one thing it does not cover.
 * Verification authenticates the manifest bytes before interpreting them, then compares the medium
 * with it. Every refusal is one line.
 */
import { sign as edSign, verify as edVerify } from 'node:crypto';
import { contextHash } from '../context/hash.js';
import { showValue } from '../context/errors.js';
import { normalizeMac } from '../net/ip.js';
import { decodeBase64Exact, type PrivateKey, type PublicKey } from './keys.js';
import {
  bindingProblem,
  canonicalMode,
  encodeManifest,
  formatTime,
  normalizeUuid,
  parseManifest,
  sha256Hex,
  SIGNATURE_PATH,
  MANIFEST_VERSION,
  type Binding,
  type Manifest,
} from './manifest.js';
import type { SignedInput } from './input.js';

/** Bound on the signature file before it is split: a 1024-file manifest with 1 KiB paths is ~1.1 MiB. */
const MAX_SIGNATURE_FILE = 2 * 1024 * 1024;
const SIG_LINE = /^signature ed25519 ([0-9a-f]{16}) (\S+)$/;

/** One-line reason why `input` cannot be described by a manifest (symlinks, unknown modes), or undefined. */
function mediumProblem(input: SignedInput): string | undefined {
  for (const [path, e] of input.files) {
    if (path === SIGNATURE_PATH) continue;
    if (e.symlink) return `${showValue(path)} is a symlink; a signed context holds plain files only`;
    if (e.mode === undefined) return `${showValue(path)} has no recorded mode (the CD has no Rock Ridge); a signed context needs Rock Ridge`;
  }
  return undefined;
}

/** The manifest of `input` (the signature file itself excluded). Throws Error with one line when it has none. */
export function buildManifest(input: SignedInput, binding: Binding, instanceId?: string): Manifest {
  const why = mediumProblem(input) ?? bindingProblem(binding);
  if (why) throw new Error(`cannot sign: ${why}`);
  const signed = new Map([...input.files].filter(([p]) => p !== SIGNATURE_PATH).map(([p, e]) => [p, e.data]));
  const m: Manifest = {
    version: MANIFEST_VERSION,
    label: input.label,
    instanceId: instanceId ?? contextHash(signed),
    uuid: binding.uuid,
    macs: [...binding.macs].sort(),
    notAfter: binding.notAfter,
    serial: binding.serial,
    files: [...input.files]
      .filter(([p]) => p !== SIGNATURE_PATH)
      .map(([path, e]) => ({ path, mode: canonicalMode(e.mode!), size: e.data.length, sha256: sha256Hex(e.data) })),
  };
  encodeManifest(m); // throws now, at signing, on anything without a canonical form
  return m;
}

/** The signature file's bytes for `m`. */
export function signManifest(m: Manifest, key: PrivateKey): Buffer {
  const body = encodeManifest(m);
  const sig = edSign(null, body, key.key);
  return Buffer.concat([body, Buffer.from(`signature ed25519 ${key.keyId} ${sig.toString('base64')}\n`)]);
}

/** Manifest + signature file for `input`, ready to add at SIGNATURE_PATH. */
export function signContext(input: SignedInput, key: PrivateKey, binding: Binding, instanceId?: string): { manifest: Manifest; data: Buffer } {
  const manifest = buildManifest(input, binding, instanceId);
  return { manifest, data: signManifest(manifest, key) };
}

interface SplitSignature {
  body: Buffer;
  keyId: string;
  signature: Buffer;
}

function splitSignatureFile(data: Buffer): SplitSignature | string {
  const where = SIGNATURE_PATH;
  if (data.length > MAX_SIGNATURE_FILE) return `${where}: ${data.length} bytes, more than ${MAX_SIGNATURE_FILE}`;
  if (data.length === 0 || data[data.length - 1] !== 0x0a) return `${where}: does not end with a newline (truncated?)`;
  const cut = data.lastIndexOf(0x0a, data.length - 2);
  if (cut < 0) return `${where}: no manifest before the signature line`;
  const line = data.subarray(cut + 1, data.length - 1).toString('latin1');
  const m = SIG_LINE.exec(line);
  if (!m) return `${where}: last line is not "signature ed25519 KEYID BASE64"`;
  const signature = decodeBase64Exact(m[2]!, 64);
  if (!signature) return `${where}: the signature is not the canonical base64 of 64 bytes`;
  return { body: data.subarray(0, cut + 1), keyId: m[1]!, signature };
}

export type SignatureState =
  | { state: 'unsigned' }
  | { state: 'signed'; keyId: string; manifest: Manifest }
  | { state: 'malformed'; why: string; keyId?: string };

/**
 * What the signature file says, *without* checking the signature (for `contextgen inspect` and
 * diagnostics). Never act on this: use verifyContext.
 */
export function readSignature(input: SignedInput): SignatureState {
  const e = input.files.get(SIGNATURE_PATH);
  if (!e) return { state: 'unsigned' };
  const s = splitSignatureFile(e.data);
  if (typeof s === 'string') return { state: 'malformed', why: s };
  const p = parseManifest(s.body);
  if (!p.ok) return { state: 'malformed', why: `${SIGNATURE_PATH}: ${p.why}`, keyId: s.keyId };
  return { state: 'signed', keyId: s.keyId, manifest: p.manifest };
}

export interface VerifyFacts {
  /** This VM's SMBIOS UUID (/sys/class/dmi/id/product_uuid); undefined when it has none. */
  uuid?: string;
  /** MACs of this VM's NICs, any case, ":" or "-" separated. */
  macs: string[];
  now: Date;
  /** Highest serial this VM applied before; undefined when none was recorded. */
  lastSerial?: number;
}

export type Verdict = { ok: true; keyId: string; manifest: Manifest } | { ok: false; why: string; keyId?: string };

const MAX_LISTED = 4;

/** "a, b, c and 2 more" */
function listed(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown} and ${items.length - MAX_LISTED} more` : shown;
}

/** Differences between the medium and the manifest, one phrase each (content, mode, added, removed). */
function fileDifferences(input: SignedInput, m: Manifest): string[] {
  const out: string[] = [];
  const signed = new Map(m.files.map((f) => [f.path, f]));
  for (const f of m.files) {
    const e = input.files.get(f.path);
    if (!e) out.push(`${showValue(f.path)} removed`);
    else if (e.symlink) out.push(`${showValue(f.path)} is a symlink`);
    else if (e.data.length !== f.size || sha256Hex(e.data) !== f.sha256) out.push(`${showValue(f.path)} content changed`);
    else if (e.mode === undefined) out.push(`${showValue(f.path)} has no recorded mode (no Rock Ridge)`);
    else if (canonicalMode(e.mode) !== f.mode) {
      out.push(`${showValue(f.path)} mode ${canonicalMode(e.mode).toString(8).padStart(4, '0')} (signed ${f.mode.toString(8).padStart(4, '0')})`);
    }
  }
  for (const path of input.files.keys()) if (path !== SIGNATURE_PATH && !signed.has(path)) out.push(`${showValue(path)} added`);
  return out;
}

/**
 * Whether `input` carries a valid signature from one of `trusted`, for this VM, now. The checks run
 * in this order and the first failure is the answer: unsigned, malformed, untrusted key, bad
 * signature, malformed manifest, label, files, UUID, MACs, expiry, serial.
 * With no trusted key there is nothing to verify against: the caller keeps today's behaviour.
 */
export function verifyContext(input: SignedInput, trusted: PublicKey[], facts: VerifyFacts): Verdict {
  const e = input.files.get(SIGNATURE_PATH);
  const pinned = `${trusted.length} trusted key${trusted.length === 1 ? ' is' : 's are'} pinned`;
  if (trusted.length === 0) return { ok: false, why: 'no trusted key to verify the context against' };
  if (!e) return { ok: false, why: `unsigned context (no ${SIGNATURE_PATH}), but ${pinned}` };
  if (e.symlink) return { ok: false, why: `${SIGNATURE_PATH} is a symlink; a signed context holds plain files only` };
  const s = splitSignatureFile(e.data);
  if (typeof s === 'string') return { ok: false, why: s };
  const fail = (why: string): Verdict => ({ ok: false, why, keyId: s.keyId });
  const candidates = trusted.filter((k) => k.keyId === s.keyId);
  if (candidates.length === 0) return fail(`signed by key ${s.keyId}, which is not trusted (trusted: ${listed([...new Set(trusted.map((k) => k.keyId))])})`);
  // Two pinned keys could share an id only by a 64-bit collision; try each rather than trust the first.
  if (!candidates.some((k) => edVerify(null, s.body, k.key, s.signature))) {
    return fail(`bad signature: ${SIGNATURE_PATH} does not verify with trusted key ${s.keyId} (manifest altered or signed by another key)`);
  }
  const p = parseManifest(s.body);
  if (!p.ok) return fail(`${SIGNATURE_PATH}: ${p.why}`);
  const m = p.manifest;
  if (input.label !== m.label) return fail(`volume label ${showValue(input.label)} differs from the signed ${showValue(m.label)}`);
  const diffs = fileDifferences(input, m);
  if (diffs.length) return fail(`${diffs.length === 1 ? 'a file differs' : `${diffs.length} files differ`} from the signed manifest: ${listed(diffs)}`);
  if (m.uuid !== undefined) {
    const mine = facts.uuid === undefined ? undefined : normalizeUuid(facts.uuid);
    if (mine === undefined) return fail(`signed for VM UUID ${m.uuid}, but this VM reports no usable SMBIOS UUID`);
    if (mine !== m.uuid) return fail(`signed for VM UUID ${m.uuid}, but this VM's UUID is ${mine}`);
  }
  const mine = new Set(facts.macs.map((x) => normalizeMac(x)).filter((x): x is string => x !== undefined));
  const missing = m.macs.filter((x) => !mine.has(x));
  if (missing.length) return fail(`signed for NIC MAC${missing.length > 1 ? 's' : ''} ${listed(missing)}, which no NIC of this VM has`);
  if (m.notAfter !== undefined && facts.now.getTime() >= m.notAfter.getTime()) {
    return fail(`expired: valid until ${formatTime(m.notAfter)}, it is now ${formatTime(new Date(Math.floor(facts.now.getTime() / 1000) * 1000))}`);
  }
  if (facts.lastSerial !== undefined) {
    if (m.serial === undefined) return fail(`has no serial, but this VM already applied serial ${facts.lastSerial} (rollback refused)`);
    if (m.serial < facts.lastSerial) return fail(`serial ${m.serial} is older than serial ${facts.lastSerial} already applied (rollback refused)`);
  }
  return { ok: true, keyId: s.keyId, manifest: m };
}

/**
 * The canonical manifest of a context: what a signature covers. A versioned, line-based UTF-8 text
 * with exactly one encoding per manifest (fixed line order, sorted lists, no optional spacing), so
 * the signer and every verifier hash the same bytes. Format (docs/signed-contexts.md):
 *
 *   contextualization-manifest 1
 *   label CONTEXT
 *   instance-id web01
 *   uuid 6f1c2a9e-3b7d-4c2e-9a51-0d6b2f8e4c11          optional: the VM's SMBIOS/domain UUID, lower case
 *   mac 52:54:00:12:34:56                              zero or more, lower case, sorted, unique
 *   not-after 2026-12-31T00:00:00Z                     optional expiry (UTC, whole seconds)
 *   serial 7                                           optional monotonic serial
 *   file 0444 123 <sha256 hex> common/network          one per file, sorted by UTF-8 bytes of the path
 *   end
 *
 * A file's mode is recorded as its executable bit only, written 0444 or 0555 (what `mkisofs -r`
 * records): ISO writers differ on the rest (-R keeps 0644/0600/0755, -r rationalises them), and on a
 * read-only, nosuid medium the executable bit is the one permission that changes behaviour.
 */
import { createHash } from 'node:crypto';
import { checkContextPath, checkInstanceId, whyNot } from '../context/rules.js';
import { showValue } from '../context/errors.js';
import { normalizeMac } from '../net/ip.js';

export const MANIFEST_VERSION = 1;
export const MANIFEST_MAGIC = 'contextualization-manifest';
/** Where the signature travels on the CD. Old agents ignore files they do not know (common/README too). */
export const SIGNATURE_PATH = 'common/context.sig';

export type SignedMode = 0o444 | 0o555;

export interface ManifestFile {
  path: string;
  mode: SignedMode;
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

/** What ties a context to one VM and one time window. */
export interface Binding {
  /** Domain UUID as SMBIOS reports it (/sys/class/dmi/id/product_uuid), lower case. */
  uuid?: string;
  /** NIC MACs that must all be present, lower case, ":" separated. */
  macs: string[];
  notAfter?: Date;
  serial?: number;
}

export interface Manifest extends Binding {
  version: typeof MANIFEST_VERSION;
  /** ISO volume label. */
  label: string;
  /** The context's instance id: context.ini's instance_id, else contextHash of the signed files. */
  instanceId: string;
  files: ManifestFile[];
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LABEL_RE = /^[A-Za-z0-9_.-]{1,32}$/;
const SHA_RE = /^[0-9a-f]{64}$/;
/** Integers without leading zeros, so each number has one spelling. */
const UINT_RE = /^(0|[1-9][0-9]{0,15})$/;
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export function canonicalMode(mode: number): SignedMode {
  return mode & 0o111 ? 0o555 : 0o444;
}

export function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Byte order of the UTF-8 encodings (not JS's UTF-16 order): the manifest's one sort. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Lower-case UUID, or undefined when it is not one (or is the nil UUID, which no VM can prove). */
export function normalizeUuid(s: string): string | undefined {
  const u = s.trim().toLowerCase();
  return UUID_RE.test(u) && !/^[0-]+$/.test(u) ? u : undefined;
}

/** Why a binding cannot be signed, or undefined. Values must already be canonical. */
export function bindingProblem(b: Binding): string | undefined {
  if (b.uuid !== undefined && normalizeUuid(b.uuid) !== b.uuid) return `uuid ${showValue(b.uuid)} is not a lower-case, non-nil UUID`;
  for (const m of b.macs) if (normalizeMac(m) !== m) return `mac ${showValue(m)} is not a lower-case MAC address`;
  if (new Set(b.macs).size !== b.macs.length) return 'a MAC is listed twice';
  if (b.notAfter !== undefined && (Number.isNaN(b.notAfter.getTime()) || b.notAfter.getTime() % 1000 !== 0)) return 'not-after must be a whole second';
  if (b.serial !== undefined && !(Number.isSafeInteger(b.serial) && b.serial >= 0)) return `serial ${b.serial} is not a whole number 0..2^53-1`;
  return undefined;
}

/** The canonical bytes. Throws on a manifest that has no canonical form (a programming error). */
export function encodeManifest(m: Manifest): Buffer {
  const why = bindingProblem(m) ?? (LABEL_RE.test(m.label) ? undefined : `label ${showValue(m.label)} is not 1-32 of A-Z a-z 0-9 _ . -`) ?? whyNot(checkInstanceId(m.instanceId));
  if (why) throw new Error(`manifest: ${why}`);
  const lines = [`${MANIFEST_MAGIC} ${m.version}`, `label ${m.label}`, `instance-id ${m.instanceId}`];
  if (m.uuid !== undefined) lines.push(`uuid ${m.uuid}`);
  for (const mac of [...m.macs].sort()) lines.push(`mac ${mac}`);
  if (m.notAfter !== undefined) lines.push(`not-after ${formatTime(m.notAfter)}`);
  if (m.serial !== undefined) lines.push(`serial ${m.serial}`);
  const files = [...m.files].sort((a, b) => comparePaths(a.path, b.path));
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const p = whyNot(checkContextPath(f.path));
    if (p) throw new Error(`manifest: file ${showValue(f.path)}: ${p}`);
    if (i > 0 && files[i - 1]!.path === f.path) throw new Error(`manifest: file ${showValue(f.path)} listed twice`);
    lines.push(`file ${f.mode.toString(8).padStart(4, '0')} ${f.size} ${f.sha256} ${f.path}`);
  }
  lines.push('end');
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

/**
 * Parses manifest bytes strictly: fields in their fixed order, each singleton at most once, files
 * sorted and unique. Returns the manifest or one line saying what is wrong (and on which line).
 */
export function parseManifest(bytes: Buffer): { ok: true; manifest: Manifest } | { ok: false; why: string } {
  const text = bytes.toString('utf8');
  const bad = (n: number, why: string) => ({ ok: false as const, why: `manifest line ${n}: ${why}` });
  if (!Buffer.from(text, 'utf8').equals(bytes)) return { ok: false, why: 'manifest is not valid UTF-8' };
  if (!text.endsWith('\n')) return { ok: false, why: 'manifest does not end with a newline' };
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== `${MANIFEST_MAGIC} ${MANIFEST_VERSION}`) {
    const v = /^contextualization-manifest (\S+)$/.exec(lines[0] ?? '');
    return bad(1, v ? `manifest version ${showValue(v[1]!)} is not supported (this agent reads version ${MANIFEST_VERSION})` : `expected "${MANIFEST_MAGIC} ${MANIFEST_VERSION}"`);
  }
  // Each field in its fixed position: a key out of order or repeated is refused, not merged.
  const order = ['label', 'instance-id', 'uuid', 'mac', 'not-after', 'serial', 'file', 'end'];
  const repeatable = new Set(['mac', 'file']);
  const m: Manifest = { version: MANIFEST_VERSION, label: '', instanceId: '', macs: [], files: [] };
  let at = 0;
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const n = i + 1;
    const ln = lines[i]!;
    const sp = ln.indexOf(' ');
    const key = sp < 0 ? ln : ln.slice(0, sp);
    const value = sp < 0 ? '' : ln.slice(sp + 1);
    const pos = order.indexOf(key);
    if (pos < 0) return bad(n, `unknown field ${showValue(key)}`);
    if (seen.has(key) && !repeatable.has(key)) return bad(n, `field ${key} given twice`);
    if (pos < at) return bad(n, `field ${key} out of order (after ${order[at]})`);
    at = pos;
    seen.add(key);
    switch (key) {
      case 'label':
        if (!LABEL_RE.test(value)) return bad(n, `label ${showValue(value)} is not 1-32 of A-Z a-z 0-9 _ . -`);
        m.label = value;
        break;
      case 'instance-id': {
        const why = whyNot(checkInstanceId(value));
        if (why) return bad(n, `${showValue(value)}: ${why}`);
        m.instanceId = value;
        break;
      }
      case 'uuid':
        if (normalizeUuid(value) !== value) return bad(n, `uuid ${showValue(value)} is not a lower-case, non-nil UUID`);
        m.uuid = value;
        break;
      case 'mac': {
        if (normalizeMac(value) !== value) return bad(n, `mac ${showValue(value)} is not a lower-case MAC address`);
        const prev = m.macs[m.macs.length - 1];
        if (prev !== undefined && prev >= value) return bad(n, prev === value ? `mac ${value} listed twice` : `mac ${value} is not in sorted order`);
        m.macs.push(value);
        break;
      }
      case 'not-after': {
        const t = TIME_RE.test(value) ? new Date(value) : undefined;
        if (!t || Number.isNaN(t.getTime()) || formatTime(t) !== value) return bad(n, `not-after ${showValue(value)} is not YYYY-MM-DDTHH:MM:SSZ`);
        m.notAfter = t;
        break;
      }
      case 'serial':
        if (!UINT_RE.test(value) || !Number.isSafeInteger(Number(value))) return bad(n, `serial ${showValue(value)} is not a whole number without leading zeros`);
        m.serial = Number(value);
        break;
      case 'file': {
        const f = /^(0444|0555) (0|[1-9][0-9]{0,15}) ([0-9a-f]{64}) (.+)$/.exec(value);
        if (!f) return bad(n, 'expected "file 0444|0555 SIZE SHA256 PATH"');
        const path = f[4]!;
        const why = whyNot(checkContextPath(path));
        if (why) return bad(n, `file ${showValue(path)}: ${why}`);
        const prev = m.files[m.files.length - 1];
        if (prev && comparePaths(prev.path, path) >= 0) return bad(n, prev.path === path ? `file ${showValue(path)} listed twice` : `file ${showValue(path)} is not in sorted order`);
        if (!SHA_RE.test(f[3]!)) return bad(n, 'bad sha256');
        m.files.push({ path, mode: f[1] === '0555' ? 0o555 : 0o444, size: Number(f[2]), sha256: f[3]! });
        break;
      }
      case 'end':
        if (value !== '' || sp >= 0) return bad(n, 'expected "end"');
        if (i !== lines.length - 1) return bad(n + 1, 'text after "end"');
        if (!seen.has('label') || !seen.has('instance-id')) return bad(n, 'label and instance-id are required');
        // The parse is strict, so this holds; it guards against a field this parser let through by mistake.
        if (!encodeManifest(m).equals(bytes)) return { ok: false, why: 'manifest is not in canonical form' };
        return { ok: true, manifest: m };
    }
  }
  return { ok: false, why: 'manifest has no "end" line (truncated?)' };
}

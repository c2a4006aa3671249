/**
 * Signed contexts, the agent's side (format: docs/signed-contexts.md). When at least one key is trusted
 * (/etc/contextualization/trusted-keys.d/), a context must carry a valid signature from one of them,
 * made for this VM (SMBIOS UUID, NIC MACs), not expired, not older than the last serial applied here.
 * The policy decides what an unsigned or refused context loses: everything (`whole`, the default), or
 * only its root powers (`scripts-and-keys`: post-install and SSH keys dropped, network still applied).
 */
import { RootFs as HostFs } from '../../../lib/fs/index.js';
import { withDevice } from '../discover/read.js';
import { DEFAULT_LIMITS } from '../discover/tree.js';
import type { ContextFiles } from '../../../lib/context/model.js';
import { inputFromDir, normalizeUuid, parsePublicKey, verifyContext, verifyIso, type PublicKey, type Verdict } from '../../../lib/signing/index.js';
import { PATHS } from '../state/paths.js';
import type { SourceStatus } from '../state/status.js';

export const TRUSTED_KEYS_DIR = `${PATHS.etcDir}/trusted-keys.d`;
export const POLICY_FILE = `${PATHS.etcDir}/signature-policy`;
export const SERIAL_FILE = `${PATHS.stateDir}/signed-serial`;
export type SignaturePolicy = 'whole' | 'scripts-and-keys';

export interface TrustConfig {
  /** Signing is required: the directory holds at least one entry (even if none of them parses). */
  pinned: boolean;
  keys: PublicKey[];
  policy: SignaturePolicy;
  /** One line per key file or setting that could not be used. */
  problems: string[];
}

export function readTrustConfig(fs: HostFs): TrustConfig {
  const problems: string[] = [];
  const names = (fs.listDir(TRUSTED_KEYS_DIR) ?? []).filter((n) => !n.startsWith('.'));
  const keys: PublicKey[] = [];
  for (const n of names) {
    const path = `${TRUSTED_KEYS_DIR}/${n}`;
    try {
      const text = fs.readFileIfRegular(path, { maxBytes: 64 * 1024 });
      if (text === undefined) problems.push(`${fs.host(path)}: not a regular file; key ignored`);
      else keys.push(parsePublicKey(text, fs.host(path)));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  // Fail closed: a pinned directory whose keys all failed to parse trusts nothing, it does not turn signing off.
  let policy: SignaturePolicy = 'whole';
  const raw = fs.readFileIfRegular(POLICY_FILE, { maxBytes: 4096 })?.toString('utf8').replace(/#.*/g, '').trim();
  if (raw === 'scripts-and-keys' || raw === 'whole') policy = raw;
  else if (raw !== undefined && raw !== '') problems.push(`${fs.host(POLICY_FILE)}: ${JSON.stringify(raw.slice(0, 40))} is not whole or scripts-and-keys; using whole`);
  return { pinned: names.length > 0, keys, policy, problems };
}

/** This VM as a signature must name it: SMBIOS UUID (absent or nil: unknown), its NICs' MACs, the last serial. */
export function machineBinding(fs: HostFs, macs: string[]): { uuid?: string; macs: string[]; lastSerial?: number } {
  let uuid: string | undefined;
  try {
    const raw = fs.readFileIfRegular('/sys/class/dmi/id/product_uuid', { maxBytes: 256 })?.toString('utf8').trim();
    uuid = raw ? normalizeUuid(raw) : undefined;
  } catch { uuid = undefined; }
  const serialText = fs.readFileIfRegular(SERIAL_FILE, { maxBytes: 64 })?.toString('utf8').trim();
  const lastSerial = serialText && /^\d{1,15}$/.test(serialText) ? Number(serialText) : undefined;
  return { ...(uuid ? { uuid } : {}), macs, ...(lastSerial !== undefined ? { lastSerial } : {}) };
}

/**
 * Verify the context where it was read from (the medium records the modes the signature covers) and
 * return the very bytes that were verified. A device or ISO is re-read by the in-process reader: a
 * mounted CD cannot tell whether its modes came from Rock Ridge.
 */
export function verifySource(fs: HostFs, source: SourceStatus, files: ContextFiles, trust: TrustConfig, binding: ReturnType<typeof machineBinding>, label: string): { verdict: Verdict; files: ContextFiles } {
  const facts = { ...binding, now: new Date() };
  const limits = { maxTotalSize: DEFAULT_LIMITS.maxBytes, maxDepth: DEFAULT_LIMITS.maxDepth, maxFiles: DEFAULT_LIMITS.maxFiles };
  if (source.kind === 'device' && source.path) {
    return withDevice(fs, source.path, (p) => verifyIso(p, trust.keys, facts, limits));
  }
  if (source.kind === 'iso' && source.path) {
    const abs = source.path.startsWith('/') ? source.path : `${process.cwd()}/${source.path}`;
    return withDevice(new HostFs('/'), abs, (p) => verifyIso(p, trust.keys, facts, limits), true);
  }
  if (source.kind === 'dir' && source.path) {
    return { verdict: verifyContext(inputFromDir(files, source.path, label, { rockRidge: true }), trust.keys, facts), files };
  }
  return { verdict: { ok: false, why: 'no medium to verify' }, files };
}

/** Remember the serial of the context applied, so an older signed CD for this VM is refused (rollback). */
export function recordSerial(fs: HostFs, serial: number | undefined): void {
  if (serial === undefined) return;
  fs.ensureDir(PATHS.stateDir, 0o700);
  fs.writeFileAtomic(SERIAL_FILE, `${serial}\n`, 0o600);
}

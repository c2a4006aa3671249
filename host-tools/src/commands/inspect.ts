/**
 * `contextgen inspect FILE.iso`: what is on a context ISO and what the agent would make of it.
 */
import { resolve } from 'node:path';
import { ContextError, formatProblem, parseContext, validateContext, type Context, type Problem } from '../../../lib/context/index.js';
import { IsoError, openIso, readAllFiles, type IsoImage } from '../../../lib/iso9660/index.js';
import type { Io } from '../io.js';
import { describeContext } from '../context-build.js';
import { inputFromIso, readSignature, verifyContext, type Manifest, type PublicKey } from '../../../lib/signing/index.js';
import { describeBinding, loadPublicKeyFile } from '../signing.js';

export interface InspectResult {
  file: string;
  volumeId: string;
  naming: string;
  entries: { path: string; type: string; size: number; mode: string }[];
  context?: Context;
  problems: Problem[];
  /** Whether the CD is signed and what for; `verified` only with --verify-key. */
  signature?: { state: 'unsigned' | 'signed' | 'malformed'; keyId?: string; manifest?: Manifest; verified?: boolean; why?: string };
}

/**
 * The signature as the CD states it, verified against `keys` when given. Binding facts are taken
 * from the manifest itself (inspect runs on the host, not on the VM): the signature, the files,
 * the label and the expiry are checked; UUID and MACs are shown for the operator to compare.
 */
function inspectSignature(img: IsoImage, keys: PublicKey[] | undefined, isoPath: string, problems: Problem[]): InspectResult['signature'] {
  const input = inputFromIso(img);
  const st = readSignature(input);
  const sig: NonNullable<InspectResult['signature']> = st.state === 'signed' ? { state: 'signed', keyId: st.keyId, manifest: st.manifest } : st.state === 'malformed' ? { state: 'malformed', keyId: st.keyId, why: st.why } : { state: 'unsigned' };
  if (keys) {
    const v = verifyContext(input, keys, { uuid: st.state === 'signed' ? st.manifest.uuid : undefined, macs: st.state === 'signed' ? st.manifest.macs : [], now: new Date() });
    sig.verified = v.ok;
    if (!v.ok) {
      sig.why = v.why;
      problems.push({ file: isoPath, why: `signature refused: ${v.why}` });
    }
  } else if (st.state === 'malformed') problems.push({ file: isoPath, why: `signature: ${st.why}` });
  return sig;
}

export async function runInspect(isoPath: string, io: Io, opts: { verifyKeys?: string[] } = {}): Promise<InspectResult> {
  const file = resolve(io.cwd, isoPath);
  const keys = opts.verifyKeys ? await Promise.all(opts.verifyKeys.map((k) => loadPublicKeyFile(io.cwd, k))) : undefined;
  let img;
  try {
    img = openIso(file);
  } catch (e) {
    if (e instanceof IsoError) throw new ContextError([{ file: isoPath, why: `not a readable ISO 9660 image: ${e.message}` }], { cause: e });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') throw new ContextError([{ file: isoPath, why: `cannot read: ${err.code}` }], { cause: e });
    throw e;
  }
  try {
    const entries = img.entries().map((e) => ({ path: e.path, type: e.type, size: e.size, mode: e.mode.toString(8).padStart(4, '0') }));
    const result: InspectResult = { file: isoPath, volumeId: img.volumeId, naming: img.naming, entries, problems: [] };
    try {
      result.context = parseContext(readAllFiles(img));
      result.problems = validateContext(result.context);
    } catch (e) {
      if (e instanceof ContextError) result.problems = e.problems;
      else if (e instanceof IsoError) result.problems = [{ file: isoPath, why: e.message }];
      else throw e;
    }
    try {
      result.signature = inspectSignature(img, keys, isoPath, result.problems);
    } catch (e) {
      if (!(e instanceof IsoError)) throw e; // already reported by the context read above
    }
    return result;
  } finally {
    img.close();
  }
}

/** Human-readable report, one fact per line. */
export function inspectLines(r: InspectResult): string[] {
  const lines = [`${r.file}: volume ${r.volumeId}, ${r.naming} names, ${r.entries.filter((e) => e.type === 'file').length} files`];
  for (const e of r.entries) lines.push(`  ${e.mode} ${e.type.padEnd(7)} ${String(e.size).padStart(8)}  ${e.path}`);
  const s = r.signature;
  if (s?.state === 'unsigned') lines.push('signature: unsigned');
  else if (s?.state === 'malformed') lines.push(`signature: malformed (${s.why})`);
  else if (s?.state === 'signed') {
    const how = s.verified === undefined ? 'not verified (give --verify-key)' : s.verified ? 'verified' : `REFUSED: ${s.why}`;
    lines.push(`signature: ${describeBinding(s.keyId!, s.manifest!)}; ${how}`);
  }
  if (r.context) lines.push(`context: ${describeContext(r.context)}`);
  for (const p of r.problems) lines.push(`problem: ${formatProblem(p)}`);
  return lines;
}

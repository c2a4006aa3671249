/**
 * `contextgen iso`: a context ISO from a context directory and/or flags.
 */
import { resolve } from 'node:path';
import { ContextError, type Problem } from '../../../lib/context/errors.js';
import { applyContextFlags, type ContextFlags } from '../context-flags.js';
import type { ContextFiles } from '../../../lib/context/model.js';
import { describeContext, finalizeContext, finalizeFromDir, isoFromFiles, loadContextDir, readInputFile, startingContext, type FinalContext } from '../context-build.js';
import { outputProblem, writeOneFile, type Io } from '../io.js';
import { checkMtime, checkVolumeLabel } from '../values.js';
import { DEFAULT_VOLUME_LABEL } from '../../../lib/context/model.js';
import type { Manifest } from '../../../lib/signing/index.js';
import { describeBinding, signerFromFlags, signFiles, type SignFlags } from '../signing.js';

/** The command line's flags: the context flags as typed, with files named by path (read by this command). */
export interface IsoOptions extends Omit<ContextFlags, 'postInstall' | 'sshKeys'>, SignFlags {
  out: string;
  from?: string;
  force?: boolean;
  label?: string;
  mtime?: string;
  postInstall?: string;
  sshKey?: string[];
}

export interface IsoResult {
  out: string;
  label: string;
  bytes: number;
  final: FinalContext;
  /** Set with --sign-key: what the signature binds (docs/signed-contexts.md). */
  signed?: { keyId: string; manifest: Manifest; files: number };
}

const CLI = '<command line>';

/** --mtime, else SOURCE_DATE_EPOCH, else undefined (the writer uses now). */
export function resolveMtime(flag: string | undefined, env: NodeJS.ProcessEnv, problems: Problem[]): Date | undefined {
  const [key, text] = flag !== undefined ? ['--mtime', flag] : ['SOURCE_DATE_EPOCH', env.SOURCE_DATE_EPOCH];
  if (text === undefined || text === '') return undefined;
  const m = checkMtime(text);
  if (!m.ok) {
    problems.push({ file: key === '--mtime' ? CLI : '<environment>', key, value: text, why: m.why });
    return undefined;
  }
  return m.value;
}

export async function runIso(o: IsoOptions, io: Io): Promise<IsoResult> {
  const problems: Problem[] = [];
  const out = resolve(io.cwd, o.out);
  const label = o.label ?? DEFAULT_VOLUME_LABEL;
  const l = checkVolumeLabel(label);
  if (!l.ok) problems.push({ file: CLI, key: '--label', value: label, why: l.why });
  const mtime = resolveMtime(o.mtime, io.env, problems);
  const outWhy = await outputProblem(out, !!o.force);
  if (outWhy) problems.push({ file: out, why: outWhy });
  const signer = await signerFromFlags(o, io.cwd, new Date(), problems);

  let base = startingContext();
  let extras = new Map<string, Buffer>();
  let dirFiles: ContextFiles | undefined;
  if (o.from !== undefined) {
    try {
      ({ context: base, extras, files: dirFiles } = await loadContextDir(resolve(io.cwd, o.from)));
    } catch (e) {
      if (!(e instanceof ContextError)) throw e;
      problems.push(...e.problems);
    }
  }
  const flags: ContextFlags = {
    hostname: o.hostname,
    nic: o.nic,
    gateway: o.gateway,
    dns: o.dns,
    search: o.search,
    domain: o.domain,
    route: o.route,
    postInstallMode: o.postInstallMode,
    postInstallTimeout: o.postInstallTimeout,
    instanceId: o.instanceId,
    legacySubnet: o.legacySubnet,
  };
  try {
    if (o.postInstall !== undefined) {
      flags.postInstall = { script: (await readInputFile(io.cwd, o.postInstall, '--post-install')).toString('utf8'), source: o.postInstall };
    }
    flags.sshKeys = [];
    for (const k of o.sshKey ?? []) flags.sshKeys.push({ text: (await readInputFile(io.cwd, k, '--ssh-key')).toString('utf8'), source: k });
  } catch (e) {
    if (!(e instanceof ContextError)) throw e;
    problems.push(...e.problems);
  }
  let ctx;
  try {
    ctx = applyContextFlags(base, flags);
  } catch (e) {
    if (!(e instanceof ContextError)) throw e;
    problems.push(...e.problems);
  }
  if (problems.length || !ctx) throw new ContextError(problems);
  // With --from, the directory's files are kept byte for byte unless a flag changed them.
  const final = dirFiles ? finalizeFromDir({ context: base, extras, files: dirFiles }, ctx) : finalizeContext(ctx, extras);
  if ('mixed' in final && !final.mixed) io.err(`contextgen: warning: ${o.from}: the flags' changes do not combine with the directory's files as written; every model file was re-serialized`);
  const signed = signer ? signFiles(final.files, label, signer, final.parsed.instanceId) : undefined;
  const iso = isoFromFiles(signed?.files ?? final.files, { label, mtime });
  await writeOneFile(out, iso, { force: !!o.force });
  const r: IsoResult = { out, label, bytes: iso.length, final };
  if (signed) r.signed = { keyId: signer!.key.keyId, manifest: signed.manifest, files: signed.files.size };
  return r;
}

export function isoSummary(r: IsoResult): string {
  const files = r.signed?.files ?? r.final.files.size;
  const line = `wrote ${r.out} (label ${r.label}, ${files} files, ${r.bytes} bytes): ${describeContext(r.final.parsed)}`;
  return r.signed ? `${line}; ${describeBinding(r.signed.keyId, r.signed.manifest)}` : line;
}

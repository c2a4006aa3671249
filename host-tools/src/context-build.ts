/**
 * Turning a Context model into the exact bytes of a context ISO, with the checks that make the ISO
 * trustworthy: the model is validated, serialized, and the serialized files parsed back the way the
 * agent will parse them. What the ISO summary reports is that parsed-back model.
 */
import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { resolve } from 'node:path';
import { ContextError, type Problem } from '../../lib/context/errors.js';
import { CONTEXT_PATHS, emptyContext, type Context, type ContextFiles } from '../../lib/context/model.js';
import { parseContext, readContextDir, serializeContext, validateContext } from '../../lib/context/index.js';
import { writeIso } from '../../lib/iso9660/index.js';
import { SIGNATURE_PATH } from '../../lib/signing/manifest.js';

const MODEL_PATHS = new Set<string>(Object.values(CONTEXT_PATHS));

export interface LoadedDir {
  context: Context;
  /** Every file of the directory as read (model files and extras), byte for byte. */
  files?: ContextFiles;
  /** Files in the directory the model does not describe (helper files a post-install uses); copied as they are. */
  extras: ContextFiles;
}

/** Reads and parses a context directory. Throws ContextError with the directory's problems. */
export async function loadContextDir(dir: string): Promise<LoadedDir> {
  const files = await readContextDir(dir);
  const context = parseContext(files);
  const extras: ContextFiles = new Map();
  // A signature is never carried over from a source tree (it signs another CD); contextgen writes its own.
  for (const [p, data] of files) if (!MODEL_PATHS.has(p) && p !== SIGNATURE_PATH) extras.set(p, data);
  const kept = new Map([...files].filter(([p]) => p !== SIGNATURE_PATH));
  return { context, extras, files: kept };
}

/**
 * Like finalizeContext, but the directory's own files go on the CD byte for byte (comments, explicit
 * defaults, quoting kept): only a model file whose serialization the flags changed is re-serialized.
 * A CD of an unchanged directory then equals `genisoimage -RJ` of it, and so does its derived
 * instance id. If mixing kept and re-serialized files would read back differently from the flagged
 * model, everything is re-serialized instead (`mixed` false) so the CD still says what was asked.
 */
export function finalizeFromDir(dir: LoadedDir & { files: ContextFiles }, ctx: Context): FinalContext & { kept: string[]; mixed: boolean } {
  const full = finalizeContext(ctx, dir.extras);
  const before = serializeContext(dir.context);
  const after = serializeContext(ctx);
  const files: ContextFiles = new Map(dir.files);
  const kept: string[] = [];
  for (const p of MODEL_PATHS) {
    const a = before.get(p);
    const b = after.get(p);
    const same = a === undefined ? b === undefined : b !== undefined && a.equals(b);
    if (same) {
      if (files.has(p)) kept.push(p);
      continue;
    }
    if (b === undefined) files.delete(p);
    else files.set(p, b);
  }
  let parsed: Context;
  try {
    parsed = parseContext(files);
  } catch (e) {
    if (!(e instanceof ContextError)) throw e;
    return { ...full, kept: [], mixed: false };
  }
  if (!isDeepStrictEqual(parsed, full.parsed)) return { ...full, kept: [], mixed: false };
  return { parsed, files, kept, mixed: true };
}

export interface FinalContext {
  /** What the agent will read from the ISO. */
  parsed: Context;
  /** Files to put on the ISO (model files + extras). */
  files: ContextFiles;
}

/** Validate + serialize + parse back. Throws ContextError listing every problem. */
export function finalizeContext(ctx: Context, extras: ContextFiles = new Map()): FinalContext {
  const problems: Problem[] = validateContext(ctx);
  if (problems.length) throw new ContextError(problems);
  const files = serializeContext(ctx);
  for (const [p, data] of extras) if (!files.has(p)) files.set(p, data);
  // The agent's view: if the serializer and parser disagree, the ISO must not be written.
  const parsed = parseContext(files);
  return { parsed, files };
}

/** The mode a file gets on the CD (a signed manifest records it, so it is defined once). */
export function isoFileMode(path: string): number {
  // Executable on the CD, as Snooze images expect (older agents run /mnt/post-install directly).
  return path === CONTEXT_PATHS.postInstall ? 0o755 : 0o644;
}

export function isoFromFiles(files: ContextFiles, opts: { label: string; mtime?: Date }): Buffer {
  const list = [...files].map(([path, data]) => ({ path, data, mode: isoFileMode(path) }));
  return writeIso(list, { volumeId: opts.label, mtime: opts.mtime });
}

export function startingContext(): Context {
  return emptyContext();
}

/** Reads a file named by a flag; a missing or unreadable file is invalid input naming the flag. */
export async function readInputFile(cwd: string, path: string, key: string, file = '<command line>'): Promise<Buffer> {
  try {
    return await readFile(resolve(cwd, path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ContextError([{ file, key, value: path, why: `cannot read: ${err.code ?? err.message}` }], { cause: e });
  }
}

/** One-line description of a parsed context for summaries. */
export function describeContext(c: Context): string {
  const parts: string[] = [];
  if (c.hostname) parts.push(`host ${c.hostname}`);
  for (const n of c.nics) {
    const who = n.match.kind === 'mac' ? n.match.mac : n.match.name;
    const addrs = [n.ipv4 && `${n.ipv4.address.address}/${n.ipv4.address.prefix}`, n.ipv6 && `${n.ipv6.address.address}/${n.ipv6.address.prefix}`]
      .filter(Boolean)
      .join(',');
    parts.push(`nic ${who}=${n.method === 'static' ? addrs : n.method}`);
  }
  if (c.legacySubnet) parts.push(`legacy ${c.legacySubnet.network.address}/${c.legacySubnet.network.prefix}`);
  if (c.dns.nameservers.length) parts.push(`dns ${c.dns.nameservers.join(',')}`);
  if (c.routes.length) parts.push(`${c.routes.length} route${c.routes.length > 1 ? 's' : ''}`);
  if (c.authorizedKeys.length) parts.push(`${c.authorizedKeys.length} ssh key${c.authorizedKeys.length > 1 ? 's' : ''}`);
  if (c.postInstall) parts.push(`post-install ${c.postInstall.mode}`);
  return parts.join(', ') || 'empty context';
}

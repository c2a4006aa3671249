/**
 * `contextgen inspect FILE.iso`: what is on a context ISO and what the agent would make of it.
 */
import { resolve } from 'node:path';
import { ContextError, formatProblem, type Problem } from '../../../lib/context/errors.js';
import type { Context } from '../../../lib/context/model.js';
import { parseContext, validateContext } from '../../../lib/context/index.js';
import { IsoError, openIso, readAllFiles } from '../../../lib/iso9660/index.js';
import type { Io } from '../io.js';
import { describeContext } from '../context-build.js';

export interface InspectResult {
  file: string;
  volumeId: string;
  naming: string;
  entries: { path: string; type: string; size: number; mode: string }[];
  context?: Context;
  problems: Problem[];
}

export async function runInspect(isoPath: string, io: Io): Promise<InspectResult> {
  const file = resolve(io.cwd, isoPath);
  let img;
  try {
    img = openIso(file);
  } catch (e) {
    if (e instanceof IsoError) throw new ContextError([{ file: isoPath, why: `not a readable ISO 9660 image: ${e.message}` }]);
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') throw new ContextError([{ file: isoPath, why: `cannot read: ${err.code}` }]);
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
    return result;
  } finally {
    img.close();
  }
}

/** Human-readable report, one fact per line. */
export function inspectLines(r: InspectResult): string[] {
  const lines = [`${r.file}: volume ${r.volumeId}, ${r.naming} names, ${r.entries.filter((e) => e.type === 'file').length} files`];
  for (const e of r.entries) lines.push(`  ${e.mode} ${e.type.padEnd(7)} ${String(e.size).padStart(8)}  ${e.path}`);
  if (r.context) lines.push(`context: ${describeContext(r.context)}`);
  for (const p of r.problems) lines.push(`problem: ${formatProblem(p)}`);
  return lines;
}

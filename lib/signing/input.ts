/**
 * What signing and verification read: every file with the mode the medium records, plus the volume
 * label. ContextFiles (path -> bytes) carries neither, so the readers are adapted here:
 * - `inputFromIso`: the in-process ISO reader (modes from Rock Ridge PX; none without Rock Ridge);
 * - `inputFromDir`: a mounted CD or an extracted tree, after readContextDir (modes from lstat).
 * Without Rock Ridge no reader can tell a mode (ours says 0444, Linux's iso9660 driver 0555, isoinfo
 * 0000), so `mode` is undefined then and a signed context is refused rather than guessed at.
 */
import { lstatSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { ContextFiles } from '../context/model.js';
import { readAllFiles, type IsoImage } from '../iso9660/index.js';

export interface SignedEntry {
  data: Buffer;
  /** Permission bits as the medium records them; undefined when it records none (no Rock Ridge). */
  mode?: number;
  /** A symlink on the medium: readers disagree on those (followed by a mount, skipped by our reader). */
  symlink?: boolean;
}

export interface SignedInput {
  label: string;
  files: Map<string, SignedEntry>;
}

/** Every file and symlink of an open image; sizes bounded by the image's limits (readAllFiles). */
export function inputFromIso(img: IsoImage): SignedInput {
  const data = readAllFiles(img);
  const modes = img.naming === 'rockridge';
  const files = new Map<string, SignedEntry>();
  for (const e of img.entries()) {
    if (e.type === 'file') files.set(e.path, { data: data.get(e.path)!, mode: modes ? e.mode : undefined });
    else if (e.type === 'symlink') files.set(e.path, { data: Buffer.alloc(0), symlink: true });
  }
  return { label: img.volumeId, files };
}

/**
 * `files` as readContextDir read them from `dir`, with each file's mode from lstat. A path that
 * goes through a symlink (readContextDir follows those inside the tree) is marked as one.
 * `rockRidge: false` (a CD mounted without Rock Ridge) leaves modes unknown.
 */
export function inputFromDir(files: ContextFiles, dir: string, label: string, opts: { rockRidge: boolean }): SignedInput {
  const root = realpathSync(dir);
  const out = new Map<string, SignedEntry>();
  for (const [rel, data] of files) {
    const full = join(root, rel);
    const st = lstatSync(full);
    const symlink = st.isSymbolicLink() || realpathSync(full) !== full;
    out.set(rel, symlink ? { data, symlink: true } : { data, mode: opts.rockRidge ? st.mode & 0o7777 : undefined });
  }
  return { label, files: out };
}

/** ContextFiles with the modes a writer will give them (for signing what is about to be written). */
export function inputFromFiles(files: ContextFiles, label: string, modeOf: (path: string) => number): SignedInput {
  const out = new Map<string, SignedEntry>();
  for (const [p, data] of files) out.set(p, { data, mode: modeOf(p) });
  return { label, files: out };
}

/**
 * Which existing files belong to the agent (NetworkRenderer.owned), honouring ownership markers:
 * /etc/sysconfig/network-scripts/ifcfg-eth0 matches the ifcfg prefix whether or not we wrote it.
 */
import type { RootFs } from '../../../lib/fs/index.js';
import { holdsOriginal } from './distro/marks.js';
import type { NetworkRenderer, OwnedFiles } from '../types/network.js';

/** Whether the file `name` (in o.dir) with this content is ours. `content` is read only when a marker must be checked. */
export function isOwnedFile(o: OwnedFiles, name: string, content: () => string | undefined): boolean {
  if (!name.startsWith(o.prefix)) return false;
  if (o.marker === undefined) return true;
  return (content() ?? '').split('\n').some((line) => line.startsWith(o.marker!));
}

/** Entries of an in-root directory (links among its parents followed in the root); none when it is not one. */
function names(fs: RootFs, dir: string): string[] {
  try {
    const real = fs.resolve(dir);
    return (real !== undefined ? fs.listDir(real) : undefined) ?? [];
  } catch {
    return [];
  }
}

/**
 * Existing files named like the given renderers' own, split by ownership: `owned` (ours: may be replaced
 * or removed as stale) and `foreign` (the name matches but the marker is missing: the user's, never touched).
 * A file that holds a distribution original we disabled or took over (distro/marks.ts) is in neither:
 * it is never removed as stale (its restore is planned instead) and may be rewritten.
 * In-root paths, sorted, without duplicates.
 */
export function findBackendFiles(fs: RootFs, renderers: readonly NetworkRenderer[]): { owned: string[]; foreign: string[] } {
  const owned = new Set<string>();
  const foreign = new Set<string>();
  const holding = new Set<string>();
  for (const r of renderers) {
    for (const o of r.owned) {
      const dirs = o.inSubdirs === undefined ? [o.dir] : names(fs, o.dir).filter((d) => d.endsWith(o.inSubdirs!)).map((d) => `${o.dir}/${d}`);
      for (const dir of dirs) {
        for (const name of names(fs, dir)) {
          if (!name.startsWith(o.prefix)) continue;
          let cached: string | undefined | null = null;
          const read = (): string | undefined => {
            if (cached !== null) return cached;
            try {
              // Never through a link or a FIFO: such an entry is judged without its content.
              cached = fs.readFileIfRegular(`${fs.resolve(dir)}/${name}`, { maxBytes: 4 * 1024 * 1024 })?.toString('utf8');
            } catch {
              cached = undefined;
            }
            return cached;
          };
          const path = `${dir}/${name}`;
          if (o.marker !== undefined && holdsOriginal(read() ?? '')) holding.add(path);
          else (isOwnedFile(o, name, read) ? owned : foreign).add(path);
        }
      }
    }
  }
  // A name owned under one renderer's rule is ours even if another renderer's rule disowns it.
  for (const p of owned) foreign.delete(p);
  for (const p of holding) {
    owned.delete(p);
    foreign.delete(p);
  }
  return { owned: [...owned].sort(), foreign: [...foreign].sort() };
}

/** In-root paths of the files the given renderers own that exist now under `root`, sorted, without duplicates. */
export function findOwnedFiles(fs: RootFs, renderers: readonly NetworkRenderer[]): string[] {
  return findBackendFiles(fs, renderers).owned;
}

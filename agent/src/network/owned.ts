/**
 * Which existing files belong to the agent (NetworkRenderer.owned), honouring ownership markers:
 * /etc/sysconfig/network-scripts/ifcfg-eth0 matches the ifcfg prefix whether or not we wrote it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkRenderer, OwnedFiles } from './types.js';

/** Whether the file `name` (in o.dir) with this content is ours. `content` is read only when a marker must be checked. */
export function isOwnedFile(o: OwnedFiles, name: string, content: () => string | undefined): boolean {
  if (!name.startsWith(o.prefix)) return false;
  if (o.marker === undefined) return true;
  return (content() ?? '').split('\n').some((line) => line.startsWith(o.marker!));
}

/**
 * Existing files named like the given renderers' own, split by ownership: `owned` (ours: may be replaced
 * or removed as stale) and `foreign` (the name matches but the marker is missing: the user's, never touched).
 * In-root paths, sorted, without duplicates.
 */
export function findBackendFiles(root: string, renderers: readonly NetworkRenderer[]): { owned: string[]; foreign: string[] } {
  const owned = new Set<string>();
  const foreign = new Set<string>();
  for (const r of renderers) {
    for (const o of r.owned) {
      let names: string[];
      try {
        names = readdirSync(join(root, o.dir));
      } catch {
        continue;
      }
      for (const name of names) {
        if (!name.startsWith(o.prefix)) continue;
        const read = (): string | undefined => {
          try {
            return readFileSync(join(root, o.dir, name), 'utf8');
          } catch {
            return undefined;
          }
        };
        (isOwnedFile(o, name, read) ? owned : foreign).add(`${o.dir}/${name}`);
      }
    }
  }
  // A name owned under one renderer's rule is ours even if another renderer's rule disowns it.
  for (const p of owned) foreign.delete(p);
  return { owned: [...owned].sort(), foreign: [...foreign].sort() };
}

/** In-root paths of the files the given renderers own that exist now under `root`, sorted, without duplicates. */
export function findOwnedFiles(root: string, renderers: readonly NetworkRenderer[]): string[] {
  return findBackendFiles(root, renderers).owned;
}

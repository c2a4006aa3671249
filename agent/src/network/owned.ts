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

/** In-root paths of the files the given renderers own that exist now under `root`, sorted, without duplicates. */
export function findOwnedFiles(root: string, renderers: readonly NetworkRenderer[]): string[] {
  const found = new Set<string>();
  for (const r of renderers) {
    for (const o of r.owned) {
      let names: string[];
      try {
        names = readdirSync(join(root, o.dir));
      } catch {
        continue;
      }
      for (const name of names) {
        const read = (): string | undefined => {
          try {
            return readFileSync(join(root, o.dir, name), 'utf8');
          } catch {
            return undefined;
          }
        };
        if (isOwnedFile(o, name, read)) found.add(`${o.dir}/${name}`);
      }
    }
  }
  return [...found].sort();
}

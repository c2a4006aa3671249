import { createHash } from 'node:crypto';
import type { ContextFiles } from './model.js';

/**
 * sha256 (hex) over every file, sorted by path, each as length-prefixed path and content so that no
 * two different file sets hash alike. The agent's default instance id when context.ini gives none.
 */
export function contextHash(files: ContextFiles): string {
  const h = createHash('sha256');
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  for (const path of [...files.keys()].sort()) {
    const p = Buffer.from(path, 'utf8');
    const c = files.get(path)!;
    h.update(u64(p.length)).update(p).update(u64(c.length)).update(c);
  }
  return h.digest('hex');
}

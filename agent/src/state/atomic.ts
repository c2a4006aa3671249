import { chmodSync, mkdirSync } from 'node:fs';
import { writeFileAtomic as writeAtomic } from '../../../lib/util/atomic.js';

/** Create a directory (and parents) and force its mode: mkdir's mode is filtered by umask and ignored if it exists. */
export function ensureDir(path: string, mode: number): void {
  mkdirSync(path, { recursive: true, mode });
  chmodSync(path, mode);
}

/** Crash-safe replace (temp + fsync + rename, see lib/util/atomic.ts) with an explicit mode. */
export function writeFileAtomic(path: string, content: string | Buffer, mode: number): void {
  writeAtomic(path, content, { mode });
}

import { randomBytes } from 'node:crypto';
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Temp name of a write in progress: `.<name>.<pid>.<8 hex>.tmp`, so a sweeper can tell whose it is. */
const TEMP_RE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

export function tempName(name: string): string {
  return `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A writer killed between creating its temp file and the rename leaves the temp behind; the next write
 * of the same target removes those of dead writers (never a live writer's).
 */
export function sweepStaleTemps(dir: string, name: string): void {
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    const m = TEMP_RE.exec(e);
    if (m && m[1] === name && Number(m[2]) !== process.pid && !alive(Number(m[2]))) {
      try { unlinkSync(join(dir, e)); } catch { /* raced with another sweeper */ }
    }
  }
}

/** A fresh random suffix, for names that must not collide (set-aside directories). */
export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

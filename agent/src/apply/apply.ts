/**
 * The effectful shell: applies a Plan under a root directory.
 *
 * Order: check every path first (nothing written if any is unsafe) -> back up each file that will be
 * replaced or removed -> write each file atomically (temp + fsync + rename) -> remove stale owned files
 * -> run live commands. Every write is atomic, so a crash at any point leaves each file either old or
 * new; a rerun recomputes the same plan and completes the job.
 */
import { lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative } from 'node:path';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { exists, writeFileAtomic } from '../../../lib/util/atomic.js';
import type { Plan, PlannedCommand } from '../plan/types.js';

export const BACKUP_DIR = '/var/lib/contextualization/backup';

export interface ApplyOptions {
  root: string;
  /** Run `when: 'live'` commands (only when acting on the running system). */
  live: boolean;
  logger: Logger;
}

export interface ApplyResult {
  written: string[];
  unchanged: string[];
  removed: string[];
  backups: string[];
  commands: { argv: string[]; ok: boolean; error?: string }[];
}

export class ApplyError extends Error {
  override name = 'ApplyError';
}

/** Host path of an in-root path, refusing anything that could escape the root. */
export function inRoot(root: string, path: string): string {
  if (!isAbsolute(path) || normalize(path) !== path || path.includes('\0')) {
    throw new ApplyError(`refusing unsafe path ${JSON.stringify(path)}: not a normalised absolute path`);
  }
  const host = join(root, path);
  // A symlinked parent directory (planted in an image, or /etc -> elsewhere) must not lead outside the root.
  let dir = dirname(host);
  while (!exists(dir)) dir = dirname(dir);
  const realRoot = realpathSync(root);
  const rel = relative(realRoot, realpathSync(dir));
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new ApplyError(`refusing ${path}: its directory resolves outside the root ${root}`);
  }
  return host;
}

function readIfFile(host: string): Buffer | undefined {
  try {
    const st = lstatSync(host);
    if (st.isSymbolicLink()) return undefined; // a link is replaced by a file; its target is never written through
    if (!st.isFile()) throw new ApplyError(`refusing to replace ${host}: it is not a regular file`);
    return readFileSync(host);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Keep the pristine original once (`.orig`, the file as it was before the agent ever touched it)
 * and the last replaced version (`.prev`), so an operator can always restore either.
 */
function backup(root: string, path: string, host: string): string | undefined {
  let st;
  try { st = lstatSync(host); } catch { return undefined; }
  const base = join(root, BACKUP_DIR, path);
  mkdirSync(dirname(base), { recursive: true, mode: 0o700 });
  const orig = `${base}.orig`;
  if (st.isSymbolicLink()) {
    // Record where the link pointed: restoring means recreating it.
    if (!exists(orig)) writeFileAtomic(`${orig}.symlink`, `${realLinkTarget(host)}\n`, { mode: 0o600 });
    return undefined;
  }
  if (!exists(orig)) copyAtomic(host, orig);
  copyAtomic(host, `${base}.prev`);
  return `${base}.prev`;
}

function realLinkTarget(host: string): string {
  try { return readlinkSync(host); } catch { return ''; }
}

function copyAtomic(from: string, to: string): void {
  writeFileAtomic(to, readFileSync(from), { mode: 0o600 });
}

export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const { root, logger } = opts;
  const result: ApplyResult = { written: [], unchanged: [], removed: [], backups: [], commands: [] };

  // 1. Validate everything before touching anything.
  const files = plan.files.map((f) => ({ f, host: inRoot(root, f.path) }));
  const removals = plan.remove.map((p) => ({ path: p, host: inRoot(root, p) }));
  const discards = (plan.discard ?? []).map((d) => ({ path: d.path, host: inRoot(root, d.path) }));
  for (const { path, host } of discards) {
    if (lstatSync(host, { throwIfNoEntry: false })?.isDirectory()) throw new ApplyError(`refusing to delete ${path}: it is a directory`);
  }
  const seen = new Set<string>();
  for (const { f } of files) {
    if (seen.has(f.path)) throw new ApplyError(`plan writes ${f.path} twice`);
    seen.add(f.path);
  }
  const current = files.map(({ host }) => readIfFile(host));

  // 2+3. Back up, then write each changed file atomically.
  files.forEach(({ f, host }, i) => {
    const next = Buffer.from(f.content, f.encoding ?? 'utf8');
    const old = current[i];
    if (old && old.equals(next) && (lstatSync(host).mode & 0o7777) === f.mode) {
      result.unchanged.push(f.path);
      return;
    }
    const b = f.secret ? undefined : backup(root, f.path, host);
    if (b) result.backups.push(b);
    writeFileAtomic(host, next, { mode: f.mode });
    result.written.push(f.path);
    logger.debug({ path: f.path, reason: f.reason }, 'wrote');
  });

  // 4. Stale files the agent owns (never the user's: the planner only lists owned names).
  for (const { path, host } of removals) {
    if (!exists(host)) continue;
    const b = backup(root, path, host);
    if (b) result.backups.push(b);
    unlinkSync(host);
    result.removed.push(path);
  }

  // Another machine's identity files: no backup (a copy of a shared secret or lease helps nobody).
  for (const { path, host } of discards) {
    if (!lstatSync(host, { throwIfNoEntry: false })) continue;
    unlinkSync(host);
    result.removed.push(path);
  }

  // 5. Commands, only on the live system.
  for (const c of plan.commands) {
    if (c.when === 'live' && !opts.live) continue;
    result.commands.push(await runCommand(c, logger));
  }
  return result;
}

async function runCommand(c: PlannedCommand, logger: Logger): Promise<{ argv: string[]; ok: boolean; error?: string }> {
  const [file, ...args] = c.argv;
  try {
    await execa(file!, args, { timeout: c.timeoutMs ?? 30_000, stdin: 'ignore', all: true });
    logger.debug({ argv: c.argv }, 'ran');
    return { argv: c.argv, ok: true };
  } catch (e) {
    const err = e as { shortMessage?: string; all?: string };
    const msg = `${err.shortMessage ?? String(e)}${err.all ? `: ${err.all.trim().split('\n').at(-1)}` : ''}`;
    if (c.required) throw new ApplyError(`${c.reason}: ${msg}`);
    logger.warn({ argv: c.argv }, `${c.reason} failed (not required): ${msg}`);
    return { argv: c.argv, ok: false, error: msg };
  }
}

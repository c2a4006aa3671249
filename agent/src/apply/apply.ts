/**
 * The effectful shell: applies a Plan under a root through the one in-root filesystem layer.
 *
 * Order: check every path first (nothing written if any is unsafe) -> back up each file that will be
 * replaced or removed -> write each file atomically (temp + fsync + rename) -> remove stale owned files
 * -> run live commands. Every write is atomic, so a crash at any point leaves each file either old or
 * new; a rerun recomputes the same plan and completes the job.
 */
import { existsSync } from 'node:fs';
import { runProgram } from '../system/exec.js';
import type { Logger } from 'pino';
import { FsError, describeKind, type RootFs } from '../../../lib/fs/index.js';
import type { Plan, PlannedCommand } from '../types/plan.js';
import { PATHS } from '../state/paths.js';

export const BACKUP_DIR = PATHS.backupDir;

export interface ApplyOptions {
  fs: RootFs;
  /** Run `when: 'live'` commands (only when acting on the running system). */
  live: boolean;
  logger: Logger;
  /** Whether a systemd unit is active now (injected so the check is testable; default: systemctl is-active). */
  unitActive?: (unit: string) => Promise<boolean>;
}

export interface CommandOutcome {
  argv: string[];
  ok: boolean;
  skipped?: string;
  error?: string;
}

export interface ApplyResult {
  written: string[];
  unchanged: string[];
  removed: string[];
  backups: string[];
  commands: CommandOutcome[];
}

export class ApplyError extends Error {
  override name = 'ApplyError';
}

interface Write { path: string; data: Buffer; mode: number; reason?: string }

/**
 * Keep the pristine original once (`.orig`, the file as it was before the agent ever touched it)
 * and the last replaced version (`.prev`), so an operator can always restore either. `data` is the
 * file's content as read for the plan (undefined: a symlink, whose target is recorded, never read).
 */
function backupWrites(fs: RootFs, path: string, data: Buffer | undefined): Write[] {
  const base = `${PATHS.backupDir}${path}`;
  if (data === undefined) {
    // Record where the link pointed: restoring means recreating it. The target is never read.
    const link = fs.readlink(path);
    if (link === undefined || fs.kind(`${base}.orig.symlink`) !== 'absent' || fs.kind(`${base}.orig`) !== 'absent') return [];
    return [{ path: `${base}.orig.symlink`, data: Buffer.from(`${link}\n`), mode: 0o600 }];
  }
  return [
    ...(fs.kind(`${base}.orig`) === 'absent' ? [{ path: `${base}.orig`, data, mode: 0o600 }] : []),
    { path: `${base}.prev`, data, mode: 0o600 },
  ];
}

export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const { fs, logger } = opts;
  const result: ApplyResult = { written: [], unchanged: [], removed: [], backups: [], commands: [] };

  // 1. Validate everything before touching anything: each path maps into the root, nothing but a
  //    regular file or a link sits where a file goes, no path is written twice.
  for (const d of plan.discard ?? []) {
    if (fs.kind(d.path) === 'dir') throw new FsError(`${fs.host(d.path)}: a directory where an inherited identity file was expected; not deleted`, { code: 'EISDIR', path: fs.host(d.path) });
  }
  const seen = new Set<string>();
  for (const f of plan.files) {
    if (seen.has(f.path)) throw new ApplyError(`plan writes ${f.path} twice`);
    seen.add(f.path);
  }
  const current = plan.files.map((f) => {
    const kind = fs.kind(f.path);
    if (kind === 'symlink') return undefined; // a link is replaced by a file; its target is never read or written
    if (kind !== 'absent' && kind !== 'file') throw new FsError(`${fs.host(f.path)}: a ${describeKind(kind)} where a regular file is expected; refusing to replace it`, { code: 'ENOTREG', path: fs.host(f.path) });
    return fs.readFile(f.path);
  });
  for (const p of plan.remove) {
    const kind = fs.kind(p);
    if (kind === 'dir') throw new FsError(`${fs.host(p)}: a directory where a stale owned file was expected; not removed`, { code: 'EISDIR', path: fs.host(p) });
  }

  // 2+3. Back up, then write each changed file atomically. One batch (lib/fs writeBatchAtomic): every
  //      temp file written and flushed together, the backups placed and durable before the first file
  //      they back up is replaced. Flushes dominate this step on a VM's disk, so they are shared.
  const backups: Write[] = [];
  const writes: Write[] = [];
  plan.files.forEach((f, i) => {
    const next = Buffer.from(f.content, f.encoding ?? 'utf8');
    const old = current[i];
    if (old && old.equals(next) && ((fs.lstat(f.path)?.mode ?? 0) & 0o7777) === f.mode) {
      result.unchanged.push(f.path);
      return;
    }
    if (!f.secret && (old !== undefined || fs.kind(f.path) === 'symlink')) backups.push(...backupWrites(fs, f.path, old));
    if (f.dirMode !== undefined) fs.mkdirs(f.path.slice(0, f.path.lastIndexOf('/')) || '/', f.dirMode);
    writes.push({ path: f.path, data: next, mode: f.mode, reason: f.reason });
  });

  // 4. Stale files the agent owns (never the user's: the planner only lists owned names), backed up
  //    in the same batch, removed after the writes.
  const stale = plan.remove.filter((p) => fs.kind(p) !== 'absent');
  for (const path of stale) backups.push(...backupWrites(fs, path, fs.kind(path) === 'symlink' ? undefined : fs.readFile(path)));
  if (backups.length) fs.ensureDir(PATHS.backupDir, 0o700);
  fs.writeFilesAtomic([backups, writes]);
  for (const w of writes) {
    result.written.push(w.path);
    logger.debug({ path: w.path, reason: w.reason }, 'wrote');
  }
  result.backups.push(...backups.filter((b) => b.path.endsWith('.prev')).map((b) => b.path));
  result.removed.push(...fs.removeFiles(stale));
  // A systemd drop-in directory (X.network.d) exists only for the drop-ins in it: the one our removed
  // drop-in leaves empty goes too, so undoing leaves the tree as it was. Any other directory stays.
  const dropinDirs = new Set(plan.remove.map((p) => p.slice(0, p.lastIndexOf('/'))).filter((d) => /\.(network|netdev|link)\.d$/.test(d)));
  for (const d of dropinDirs) if (fs.removeEmptyDir(d)) result.removed.push(d);

  // Another machine's identity files: no backup (a copy of a shared secret or lease helps nobody).
  result.removed.push(...fs.removeFiles((plan.discard ?? []).map((d) => d.path)));

  // 5. Commands, only on the live system, and only when the service they talk to is already running.
  const unitActive = opts.unitActive ?? systemdUnitActive;
  for (const c of plan.commands) {
    if (!opts.live) continue;
    if (c.requiresActive && !(await unitActive(c.requiresActive))) {
      const skipped = `${c.requiresActive} is not running yet: it applies the written files when it starts`;
      logger.debug({ argv: c.argv }, `${c.reason}: skipped (${skipped})`);
      result.commands.push({ argv: c.argv, ok: true, skipped });
      continue;
    }
    result.commands.push(await runCommand(c, logger));
  }
  return result;
}

const SYSTEMCTL = ['/usr/bin/systemctl', '/bin/systemctl'];

/**
 * `systemctl is-active` answers from PID 1 over its private socket, even before D-Bus runs, and never
 * waits for a job. No systemd at all (sysvinit, a container) means no unit is active.
 */
export async function systemdUnitActive(unit: string): Promise<boolean> {
  const systemctl = SYSTEMCTL.find((p) => existsSync(p));
  if (!systemctl || !existsSync('/run/systemd/system')) return false;
  const r = await runProgram(systemctl, ['is-active', '--quiet', unit], { reject: false, timeout: 5_000 });
  return r.exitCode === 0;
}

async function runCommand(c: PlannedCommand, logger: Logger): Promise<CommandOutcome> {
  const [file, ...args] = c.argv;
  try {
    await runProgram(file!, args, { timeout: c.timeoutMs ?? 30_000, all: true });
    logger.debug({ argv: c.argv }, 'ran');
    return { argv: c.argv, ok: true };
  } catch (e) {
    const err = e as { shortMessage?: string; all?: string };
    const msg = `${err.shortMessage ?? String(e)}${err.all ? `: ${err.all.trim().split('\n').at(-1)}` : ''}`;
    if (c.required) throw new ApplyError(`${c.reason}: ${msg}`, { cause: e });
    logger.warn({ argv: c.argv }, `${c.reason} failed (not required): ${msg}`);
    return { argv: c.argv, ok: false, error: msg };
  }
}

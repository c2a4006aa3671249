import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Context, PostInstallMode } from '../../../lib/context/model.js';
import { FsError, type RootFs } from '../../../lib/fs/index.js';
import { netmaskFromPrefix } from '../../../lib/net/ip.js';
import { assertSafeInstanceId } from '../state/instance-id.js';
import { PATHS, RUN_DIR } from '../state/paths.js';

/**
 * Runs the context's post-install script as root, the way Snooze did (`bash post-install`), but:
 * from a root-only copy on the root fs (never from the CD), with a sanitized environment, a timeout that
 * kills the script's whole process group, output to a log file (not a pipe: a daemon the script forks
 * inherits the file, so it cannot hold the agent the way it held one-context, addon-context-linux PR#271),
 * and once per instance unless asked otherwise.
 */

/** Longest timeout the agent honours; contextualization-final.service's TimeoutStartSec leaves room above it. */
export const MAX_POST_INSTALL_TIMEOUT_SEC = 1800;
export const KILL_GRACE_MS = 10_000;
export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Most of the script's output copied into the agent log; the log file keeps everything. */
const LOGGER_COPY_LIMIT = 256 * 1024;

export interface PostInstallOptions {
  /** The live system ("/"). Any other root: nothing is run (recorded as skipped). */
  fs: RootFs;
  script: string;
  mode: PostInstallMode;
  timeoutSec: number;
  instanceId: string;
  /** Extra environment (see postInstallEnv); merged over a minimal base, the agent's own env is not passed. */
  env: Record<string, string>;
  logger: Logger;
  dryRun?: boolean;
  /** SIGTERM-to-SIGKILL delay; 10 s unless a test shortens it. */
  killGraceMs?: number;
  /** Abort (e.g. the agent got SIGTERM): the script's group is killed like on a timeout. */
  signal?: AbortSignal;
}

export interface PostInstallResult {
  ran: boolean;
  skippedReason?: string;
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  durationMs: number;
  scriptPath?: string;
  logFile?: string;
}

const MarkerSchema = z.object({
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  finishedAt: z.string(),
  durationMs: z.number(),
  mode: z.enum(['per-instance', 'per-boot', 'disabled']),
  /** sha256 of the script that ran: an instance id is bound to the script it first ran. Absent in old markers. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type PostInstallMarker = z.infer<typeof MarkerSchema>;

/** In-root paths of one instance's post-install state. */
export function postInstallFiles(instanceId: string) {
  return {
    scriptDir: `${PATHS.stateDir}/post-install`,
    script: `${PATHS.stateDir}/post-install/${instanceId}.sh`,
    instancesDir: `${PATHS.stateDir}/instances`,
    markerDir: `${PATHS.stateDir}/instances/${instanceId}`,
    marker: `${PATHS.stateDir}/instances/${instanceId}/post-install.done`,
    log: PATHS.postInstallLog,
    disabled: PATHS.postInstallDisabled,
    trusted: PATHS.trustedInstances,
  };
}

export function scriptSha256(script: string): string {
  return createHash('sha256').update(script).digest('hex');
}

/**
 * Why the script must not run now, or undefined when it should. Checks cheapest and most global first.
 * The CD chooses the mode, but it cannot unbind what already ran: an id that ran once stays bound to
 * its mode and script (instance ids are not secret, so replaying one must not buy a new root script).
 */
export function skipReason(opts: Pick<PostInstallOptions, 'fs' | 'mode' | 'instanceId' | 'script'>): string | undefined {
  const { fs } = opts;
  const f = postInstallFiles(opts.instanceId);
  const sha = scriptSha256(opts.script);
  if (opts.mode === 'disabled') return 'post-install mode is disabled in the context';
  if (fs.kind(f.disabled) !== 'absent') return `disabled by ${fs.host(f.disabled)}`;
  if (fs.kind(f.trusted) !== 'absent') {
    // Fail closed: a pin file that cannot be read (a link, a FIFO) pins everything out.
    const text = fs.readFileIfRegular(f.trusted, { maxBytes: 1024 * 1024 })?.toString('utf8');
    if (text === undefined) return `${fs.host(f.trusted)} is not a regular file: no instance is trusted`;
    const pins = parseTrustedInstances(text);
    if (!pins.has(opts.instanceId)) return `instance ${opts.instanceId} is not listed in ${fs.host(f.trusted)}`;
    const pinned = pins.get(opts.instanceId);
    if (pinned && pinned !== sha) return `instance ${opts.instanceId}: the script's sha256 ${sha} is not the one pinned in ${fs.host(f.trusted)} (${pinned})`;
  }
  if (!fs.isLive) return 'not running post-install inside an image root';
  const done = readMarker(fs, f.marker);
  if (done) {
    const how = done.timedOut ? 'timed out' : done.signal ? `killed by ${done.signal}` : `exit ${done.exitCode}`;
    if (done.mode !== 'per-boot') {
      const asked = opts.mode === 'per-boot' ? '; a context cannot switch an instance that already ran to per-boot' : '';
      return `already ran for instance ${opts.instanceId} at ${done.finishedAt} (${how})${asked}`;
    }
    if (done.sha256 !== undefined && done.sha256 !== sha) {
      return `instance ${opts.instanceId} ran another script (sha256 ${done.sha256}); a changed script needs a new instance id`;
    }
  }
  if (opts.script.trim() === '') return 'post-install script is empty';
  return undefined;
}

/**
 * trusted-instances: one instance id per line, optionally followed by the sha256 of the only script it
 * may run (`web01 sha256:<64 hex>` or `web01 <64 hex>`); blank lines and # comments ignored.
 */
export function parseTrustedInstances(text: string): Map<string, string | undefined> {
  const pins = new Map<string, string | undefined>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [id, hash] = line.split(/\s+/);
    const m = hash ? /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(hash) : null;
    // A malformed hash pins the id to nothing: better no script than the wrong one.
    pins.set(id!, hash ? (m ? m[1]!.toLowerCase() : 'invalid') : undefined);
  }
  return pins;
}

export function readMarker(fs: RootFs, marker: string): PostInstallMarker | undefined {
  // A marker we cannot read or parse still says "it ran": never run a per-instance script twice.
  const ran: PostInstallMarker = { exitCode: null, signal: null, timedOut: false, finishedAt: 'unknown time', durationMs: 0, mode: 'per-instance' };
  let text: string | undefined;
  try {
    if (fs.kind(marker) === 'absent') return undefined;
    text = fs.readFileIfRegular(marker, { maxBytes: 64 * 1024 })?.toString('utf8');
  } catch {
    return ran;
  }
  if (text === undefined) return ran;
  try {
    const r = MarkerSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : ran;
  } catch {
    return ran;
  }
}

export async function runPostInstall(opts: PostInstallOptions): Promise<PostInstallResult> {
  const { fs } = opts;
  const log = opts.logger.child({ step: 'post-install' });
  assertSafeInstanceId(opts.instanceId);
  const reason = skipReason(opts);
  if (reason) {
    log.info({ reason }, 'post-install skipped');
    return { ran: false, skippedReason: reason, timedOut: false, durationMs: 0 };
  }
  const f = postInstallFiles(opts.instanceId);
  const timeoutSec = clampTimeout(opts.timeoutSec, log);
  if (opts.dryRun) {
    const why = `dry run: would run ${fs.host(f.script)} (${opts.mode}, timeout ${timeoutSec} s)`;
    log.info(why);
    return { ran: false, skippedReason: why, timedOut: false, durationMs: 0 };
  }

  fs.ensureDir(PATHS.stateDir, 0o700);
  fs.ensureDir(f.scriptDir, 0o700);
  const script = fs.writeFileAtomic(f.script, opts.script, 0o700);
  const env = buildEnv(opts.env);
  const bash = findBash();

  const { fd: logFd, host: logHost } = openLog(fs, f.log);
  const startedAt = new Date();
  writeAll(logFd, `\n===== post-install instance=${opts.instanceId} mode=${opts.mode} timeout=${timeoutSec}s started ${startedAt.toISOString()} =====\n`);
  const tail = new LogTail(logHost, fstatSync(logFd).size, log);
  const t0 = performance.now();
  log.info({ script, log: logHost, timeoutSec }, 'running post-install');

  let outcome: { code: number | null; signal: NodeJS.Signals | null; timedOut: boolean };
  try {
    outcome = await runGroup(bash, [script], env, logFd, timeoutSec * 1000, opts.killGraceMs ?? KILL_GRACE_MS, opts.signal, log);
  } catch (err) {
    closeSync(logFd);
    tail.stop();
    throw err;
  }
  const durationMs = Math.round(performance.now() - t0);
  const how = outcome.timedOut ? `timed out after ${timeoutSec} s` : outcome.signal ? `killed by ${outcome.signal}` : `exit ${outcome.code}`;
  writeAll(logFd, `===== post-install instance=${opts.instanceId}: ${how}, ${durationMs} ms =====\n`);
  closeSync(logFd);
  tail.stop();

  const marker: PostInstallMarker = {
    exitCode: outcome.code,
    signal: outcome.signal,
    timedOut: outcome.timedOut,
    finishedAt: new Date().toISOString(),
    durationMs,
    mode: opts.mode,
    sha256: scriptSha256(opts.script),
  };
  fs.ensureDir(f.instancesDir, 0o700);
  fs.ensureDir(f.markerDir, 0o700);
  fs.writeFileAtomic(f.marker, `${JSON.stringify(marker)}\n`, 0o600);

  const result: PostInstallResult = { ran: true, timedOut: outcome.timedOut, durationMs, scriptPath: script, logFile: logHost };
  if (outcome.code !== null) result.exitCode = outcome.code;
  if (outcome.signal !== null) result.signal = outcome.signal;
  const ok = outcome.code === 0 && !outcome.timedOut;
  log[ok ? 'info' : 'warn']({ exitCode: outcome.code, signal: outcome.signal, timedOut: outcome.timedOut, durationMs }, `post-install ${how}`);
  return result;
}

/**
 * The log holds the script's output, secrets included: it goes only into a real, root-owned directory
 * nobody else can write to, into a regular file opened without following a link.
 */
function openLog(fs: RootFs, log: string): { fd: number; host: string } {
  const dir = fs.ensureDir(PATHS.logDir, 0o750);
  const st = fs.lstat(PATHS.logDir)!;
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid) throw new FsError(`${dir}: owned by uid ${st.uid}, not ${uid}; refusing to write the post-install log there`, { code: 'EPERM', path: dir });
  const host = fs.host(log);
  let fd: number;
  try {
    fd = openSync(host, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FsError(`${host}: ${code === 'ELOOP' ? 'a symbolic link where the log file is expected' : (e as Error).message}; refusing to write the post-install log`, { code, path: host, cause: e });
  }
  const fst = fstatSync(fd);
  if (!fst.isFile() || fst.nlink > 1) {
    closeSync(fd);
    throw new FsError(`${host}: not a plain regular file (${fst.isFile() ? `${fst.nlink} hard links` : 'special file'}); refusing to write the post-install log`, { code: 'ENOTREG', path: host });
  }
  return { fd, host };
}

function clampTimeout(sec: number, log: Logger): number {
  if (!Number.isFinite(sec) || sec <= 0) return 600;
  if (sec > MAX_POST_INSTALL_TIMEOUT_SEC) {
    log.warn({ asked: sec, max: MAX_POST_INSTALL_TIMEOUT_SEC }, 'post-install timeout capped');
    return MAX_POST_INSTALL_TIMEOUT_SEC;
  }
  return sec;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function buildEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: SAFE_PATH, HOME: '/root', LANG: 'C.UTF-8', SHELL: '/bin/bash', USER: 'root', LOGNAME: 'root' };
  for (const [k, v] of Object.entries(extra)) {
    if (!ENV_NAME.test(k)) throw new Error(`post-install environment: invalid variable name ${JSON.stringify(k)}`);
    if (v.includes('\0')) throw new Error(`post-install environment: ${k} contains a NUL byte`);
    env[k] = v;
  }
  env.PATH = SAFE_PATH; // never let context values change where commands come from
  return env;
}

function findBash(): string {
  for (const p of ['/bin/bash', '/usr/bin/bash']) if (existsSync(p)) return p;
  throw new Error('post-install needs bash, and neither /bin/bash nor /usr/bin/bash exists');
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * Run argv as the leader of a new session/process group with stdout+stderr on `fd`; resolve on the
 * leader's exit (not on its children's: nothing waits on pipes). On timeout or abort: SIGTERM the group,
 * then SIGKILL whatever is left of it after the grace period.
 */
function runGroup(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  fd: number,
  timeoutMs: number,
  graceMs: number,
  abort: AbortSignal | undefined,
  log: Logger,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: '/', env, stdio: ['ignore', fd, fd], detached: true });
    let timedOut = false;
    let killing = false;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const pgid = child.pid;

    const killGroup = (sig: NodeJS.Signals): boolean => {
      if (pgid === undefined) return false;
      try {
        process.kill(-pgid, sig);
        return true;
      } catch {
        return false; // ESRCH: the group is empty
      }
    };
    const finish = (): void => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', onAbort);
      if (exited) resolve({ ...exited, timedOut });
    };
    const terminate = (why: string): void => {
      if (killing) return;
      killing = true;
      log.warn({ pgid, graceMs }, `${why}: sending SIGTERM to the post-install process group`);
      killGroup('SIGTERM');
      const deadline = Date.now() + graceMs;
      // Wait for the whole group (not only bash) to go, then SIGKILL what is left.
      const poll = setInterval(() => {
        const groupAlive = pgid !== undefined && groupHasLiveMembers(pgid);
        if (!groupAlive && exited) {
          clearInterval(poll);
          finish();
        } else if (Date.now() >= deadline) {
          clearInterval(poll);
          if (groupAlive) {
            log.warn({ pgid }, 'post-install group still alive after grace period: SIGKILL');
            killGroup('SIGKILL');
          }
          if (exited) finish();
          else child.once('exit', () => finish());
        }
      }, 100);
    };
    const onAbort = (): void => terminate('agent asked to stop');
    const timer = setTimeout(() => {
      timedOut = true;
      terminate(`post-install exceeded its ${Math.round(timeoutMs / 1000)} s timeout`);
    }, timeoutMs);
    abort?.addEventListener('abort', onAbort, { once: true });
    if (abort?.aborted) onAbort();

    child.once('error', (err) => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', onAbort);
      reject(new Error(`cannot start post-install: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      // A normal exit: daemons it left in the group are its business. After a kill, terminate() finishes.
      if (!killing) finish();
    });
  });
}

/**
 * Whether any non-zombie process is still in the group. kill(-pgid, 0) would also count zombies, which
 * cannot be killed and only wait for a reaper (PID 1 in a container may never reap them).
 */
function groupHasLiveMembers(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return false;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the command name: state ppid pgrp ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/** Copies what the script writes to its log file into the agent's logger, line by line, while it runs. */
class LogTail {
  private offset: number;
  private copied = 0;
  private partial = '';
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly file: string,
    start: number,
    private readonly log: Logger,
  ) {
    this.offset = start;
    this.timer = setInterval(() => this.pump(false), 500);
  }

  stop(): void {
    clearInterval(this.timer);
    this.pump(true);
  }

  private pump(final: boolean): void {
    let fd: number;
    try {
      fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.emit(buf.subarray(0, n).toString('utf8'));
      }
    } finally {
      closeSync(fd);
    }
    if (final && this.partial) {
      this.line(this.partial);
      this.partial = '';
    }
  }

  private emit(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.line(l);
  }

  private line(l: string): void {
    if (l.startsWith('===== post-install ')) return; // our own header/footer
    if (this.copied > LOGGER_COPY_LIMIT) return;
    this.copied += l.length + 1;
    if (this.copied > LOGGER_COPY_LIMIT) {
      this.log.info(`(post-install output beyond ${LOGGER_COPY_LIMIT} bytes is only in ${this.file})`);
      return;
    }
    this.log.info({ out: l }, 'post-install output');
  }
}

/**
 * The script's environment: instance and host names, where the copied context is, and the Snooze
 * common/network keys under their Snooze names (scripts written for Snooze read $GATEWAY etc.).
 */
export function postInstallEnv(ctx: Context, instanceId: string, contextDir = `${RUN_DIR}/context`): Record<string, string> {
  const env: Record<string, string> = { CONTEXT_INSTANCE_ID: instanceId, CONTEXT_DIR: contextDir };
  if (ctx.hostname) env.CONTEXT_HOSTNAME = ctx.hostname;
  const ls = ctx.legacySubnet;
  if (ls) {
    env.NETWORK = ls.network.address;
    env.NETMASK = netmaskFromPrefix(ls.network.prefix);
    if (ls.gateway) env.GATEWAY = ls.gateway;
    if (ls.broadcast) env.BROADCAST = ls.broadcast;
  }
  if (!env.GATEWAY) {
    const gw = ctx.nics.find((n) => n.ipv4?.gateway)?.ipv4?.gateway;
    if (gw) env.GATEWAY = gw;
  }
  if (ctx.dns.nameservers.length > 0) env.NAMESERVER = ctx.dns.nameservers.join(' ');
  if (ctx.dns.domain) env.DOMAIN = ctx.dns.domain;
  const search = ctx.dns.search.filter((s) => s !== ctx.dns.domain);
  if (search.length > 0) env.SEARCH = search.join(' ');
  return env;
}

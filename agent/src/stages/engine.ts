/**
 * The stage engine, as ignition has one: every stage (local, final) is a module with a body; the engine
 * gives it the filesystem, the lock, a step recorder and the operator switches, records status.json and
 * prints the one summary line, and maps whatever the body throws to an exit code (stages/exit.ts).
 */
import type { Logger } from 'pino';
import { FsError, RootFs } from '../../../lib/fs/index.js';
import type { BackendName, SystemNic } from '../types/network.js';
import { acquireLock } from '../state/lock.js';
import { PATHS } from '../state/paths.js';
import { StageRecorder, formatSummaryLine, mergeStage, readStatus, writeStatus, type SourceStatus } from '../state/status.js';
import { disabledReason } from '../system/facts.js';
import { EXIT, errorLines, exitCodeFor } from './exit.js';

declare const __AGENT_VERSION__: string | undefined;
export const AGENT_VERSION = typeof __AGENT_VERSION__ === 'string' ? __AGENT_VERSION__ : '0.0.0-dev';

export interface RunOptions {
  root: string;
  dryRun: boolean;
  iso?: string;
  dir?: string;
  backend?: BackendName;
  label?: string;
  devices?: string[];
  timeoutMs?: number;
  /** Declared NICs for offline rendering into an image root that has no /sys: name -> MAC. */
  nics?: SystemNic[];
  logger: Logger;
  /** Where the dry-run plan and the summary line go. */
  out: (line: string) => void;
}

export interface StageContext {
  opts: RunOptions;
  fs: RootFs;
  rec: StageRecorder;
  log: Logger;
}

/** What a stage body returns: its exit code and what status.json should say of the context. */
export interface StageResult {
  exit: number;
  instanceId?: string;
  source?: SourceStatus;
}

export interface StageFlags {
  /** `disable`/`enable` act on the switch itself, so they run whether or not it is set. */
  evenWhenDisabled?: boolean;
}

export async function runStage(name: string, opts: RunOptions, body: (s: StageContext) => Promise<StageResult>, flags: StageFlags = {}): Promise<number> {
  let fs: RootFs;
  try {
    fs = new RootFs(opts.root);
  } catch (e) {
    for (const l of errorLines(e)) opts.logger.error(l);
    return EXIT.usage;
  }
  const off = flags.evenWhenDisabled ? undefined : disabledReason(fs, PATHS.disabledFlag);
  if (off) {
    opts.out(`contextualization: disabled (${off}); nothing done`);
    return EXIT.disabled;
  }
  // A dry run takes no lock and writes no status: nothing on disk changes.
  let release = (): void => {};
  if (!opts.dryRun) {
    try {
      fs.ensureDir(PATHS.runDir, 0o755);
      release = (await acquireLock({ lockFile: fs.host(PATHS.lockFile), logger: opts.logger })).release;
    } catch (e) {
      for (const l of errorLines(e)) opts.logger.error(l);
      return exitCodeFor(e);
    }
  }
  try {
    const rec = new StageRecorder(name);
    let result: StageResult;
    try {
      result = await body({ opts, fs, rec, log: opts.logger });
    } catch (e) {
      for (const l of errorLines(e)) opts.logger.error(l);
      result = { exit: exitCodeFor(e) };
    }
    finishStage(fs, opts, rec, result);
    return result.exit;
  } finally {
    release();
  }
}

function finishStage(fs: RootFs, opts: RunOptions, rec: StageRecorder, result: StageResult): void {
  const stage = rec.finish();
  let previous;
  try { previous = readStatus(fs); } catch { previous = undefined; }
  const status = mergeStage(previous, stage, { agentVersion: AGENT_VERSION, instanceId: result.instanceId, source: result.source });
  if (!opts.dryRun) {
    try {
      writeStatus(fs, status);
    } catch (e) {
      // The stage's work is done; a status that cannot be written must not change its outcome.
      opts.logger.error(`cannot record status: ${(e as FsError).message}`);
    }
  }
  opts.out(formatSummaryLine(status));
}

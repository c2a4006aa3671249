/**
 * Stage `final` (after network-online): run post-install, only from the copy `local` published after it
 * accepted and applied the context for this instance (or from an operator's explicit --iso/--dir).
 */
import { parseContext, readContextDir } from '../../../lib/context/index.js';
import type { Context, ContextFiles } from '../../../lib/context/model.js';
import { DEFAULT_LIMITS, readContextIso } from '../discover/index.js';
import { instanceIdFor, readInstanceRecord } from '../state/instance.js';
import { PATHS } from '../state/paths.js';
import type { SourceStatus } from '../state/status.js';
import { postInstallEnv, runPostInstall } from '../steps/post-install.js';
import { runStage, type RunOptions, type StageContext, type StageResult } from './engine.js';
import { EXIT, errorLines } from './exit.js';

export function runFinal(opts: RunOptions): Promise<number> {
  return runStage('final', opts, finalStage);
}

async function finalStage(s: StageContext): Promise<StageResult> {
  const { opts, fs, rec, log } = s;
  const skip = (message: string): void => rec.add({ name: 'post-install', result: 'skipped', message, durationMs: 0, startedAt: new Date().toISOString() });
  // This boot's trigger is consumed whatever happens next: a restart of the unit does not re-run it.
  if (!opts.dryRun) fs.remove(PATHS.finalPending);

  let files: ContextFiles | undefined;
  let source: SourceStatus | undefined;
  const published = !opts.iso && !opts.dir;
  try {
    if (opts.iso) {
      files = readContextIso(opts.iso, DEFAULT_LIMITS);
      source = { kind: 'iso', path: opts.iso, method: 'reader' };
    } else if (opts.dir) {
      files = await readContextDir(opts.dir);
      source = { kind: 'dir', path: opts.dir };
    } else if (fs.kind(PATHS.contextDir) === 'dir') {
      files = await readContextDir(fs.host(PATHS.contextDir));
    }
  } catch (e) {
    for (const l of errorLines(e)) log.error(l);
  }
  if (!files) {
    skip('no context accepted by the local stage this boot');
    return { exit: EXIT.ok, source };
  }
  let ctx: Context;
  try {
    ctx = parseContext(files);
  } catch (e) {
    skip(`invalid context: ${errorLines(e)[0]}`);
    return { exit: EXIT.invalidContext, source };
  }
  const instanceId = instanceIdFor(ctx.instanceId, files);
  if (published && readInstanceRecord(fs, log)?.id !== instanceId) {
    skip(`the published context (instance ${instanceId}) is not the instance the local stage applied`);
    return { exit: EXIT.ok, instanceId, source };
  }
  const pi = ctx.postInstall;
  if (!pi) {
    skip('the context has no post-install script');
    return { exit: EXIT.ok, instanceId, source };
  }
  // systemd stopping the unit (or shutdown) sends SIGTERM: pass it on to the script's whole group.
  const abort = new AbortController();
  const onTerm = (): void => abort.abort();
  process.once('SIGTERM', onTerm);
  try {
    const r = await rec.run('post-install', async () => {
      const res = await runPostInstall({
        fs, script: pi.script, mode: pi.mode, timeoutSec: pi.timeoutSec, instanceId,
        env: postInstallEnv(ctx, instanceId), logger: log, dryRun: opts.dryRun, signal: abort.signal,
      });
      if (!res.ran) return { result: 'skipped' as const, message: res.skippedReason ?? 'not run' };
      const ok = res.exitCode === 0 && !res.timedOut;
      const how = res.timedOut ? `timed out after ${pi.timeoutSec} s` : res.signal ? `killed by ${res.signal}` : `exit code ${res.exitCode}`;
      return { result: ok ? 'ok' as const : 'failed' as const, message: `${how} in ${res.durationMs} ms; log ${res.logFile ?? ''}` };
    });
    return { exit: r.result === 'failed' ? EXIT.postInstallFailed : EXIT.ok, instanceId, source };
  } finally {
    process.removeListener('SIGTERM', onTerm);
  }
}

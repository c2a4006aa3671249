/**
 * The agent's stages, as ignition has stages:
 *   local  (before the network starts): find the context, parse it, plan network/DNS/hostname/keys, apply.
 *          No context, or a broken one: DHCP on the first NIC, unless an earlier instance left a working
 *          static configuration (then it is kept).
 *   final  (after network-online): run post-install from the copy made by `local`.
 *   boot   both, for rc.local and sysvinit.
 * Each stage takes the lock, records every step in status.json and prints one summary line.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ContextError } from '../../lib/context/errors.js';
import { parseContext, readContextDir } from '../../lib/context/index.js';
import type { Context, ContextFiles } from '../../lib/context/model.js';
import { normalizeMac } from '../../lib/net/ip.js';
import { applyPlan } from './apply/apply.js';
import { chooseFallbackNic, discoverContext, publishContext, readContextIso, DEFAULT_LIMITS } from './discover/index.js';
import { pickRenderer, makeSystemView, RENDERERS } from './network/renderers/index.js';
import { findBackendFiles } from './network/owned.js';
import { listNics } from './network/sysfs.js';
import { NicNotFoundError } from './network/resolve.js';
import { execa } from 'execa';
import type { BackendName, NetworkConfig, NetworkRenderer, SystemNic } from './network/types.js';
import { formatPlan, planContext, planDhcpFallback, type Facts, type PlannedContext } from './plan/planner.js';
import { acquireLock, type Lock } from './state/lock.js';
import { agentPaths, type AgentPaths } from './state/paths.js';
import {
  decideWithoutContext, identifyInstance, instanceIdFor, readInstanceRecord, withNetworkApplied, writeInstanceRecord,
  type InstanceRecord, type NetworkSummary,
} from './state/instance.js';
import { formatSummaryLine, mergeStage, readStatus, StageRecorder, writeStatus, type SourceStatus } from './state/status.js';
import { postInstallEnv, runPostInstall } from './steps/post-install.js';

declare const __AGENT_VERSION__: string | undefined;
export const AGENT_VERSION = typeof __AGENT_VERSION__ === 'string' ? __AGENT_VERSION__ : '0.0.0-dev';

/** Exit codes (documented in the README). */
export const EXIT = {
  ok: 0,
  /** A context was found but is invalid: nothing of it applied, the network fell back. */
  invalidContext: 1,
  usage: 2,
  /** Applying failed (I/O, a required command). */
  applyFailed: 3,
  /** Another run holds the lock. */
  locked: 4,
  /** post-install exited non-zero or timed out. */
  postInstallFailed: 5,
  /** Disabled by flag file or kernel command line: nothing done. */
  disabled: 0,
} as const;

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

interface Loaded {
  files: ContextFiles;
  source: SourceStatus;
}

function disabledReason(paths: AgentPaths, root: string): string | undefined {
  if (existsSync(join(paths.etcDir, 'disabled'))) return `${join(paths.etcDir, 'disabled')} exists`;
  if (root === '/') {
    try {
      if (readFileSync('/proc/cmdline', 'utf8').split(/\s+/).includes('contextualization=disabled')) return 'kernel command line has contextualization=disabled';
    } catch { /* no /proc: not a live boot */ }
  }
  return undefined;
}

async function withLock<T>(paths: AgentPaths, opts: RunOptions, fn: () => Promise<T>): Promise<T> {
  if (opts.dryRun) return fn();
  let lock: Lock;
  lock = await acquireLock({ lockFile: paths.lockFile, logger: opts.logger });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

async function loadContext(opts: RunOptions, rec: StageRecorder): Promise<Loaded | undefined> {
  return rec.run('find-context', async () => {
    if (opts.iso) {
      const files = readContextIso(opts.iso, DEFAULT_LIMITS);
      return { result: 'ok' as const, message: `ISO file ${opts.iso}`, loaded: { files, source: { kind: 'iso' as const, path: opts.iso, method: 'reader' as const } } };
    }
    if (opts.dir) {
      const files = await readContextDir(opts.dir);
      return { result: 'ok' as const, message: `directory ${opts.dir}`, loaded: { files, source: { kind: 'dir' as const, path: opts.dir } } };
    }
    const found = await discoverContext({
      root: opts.root, logger: opts.logger, label: opts.label, devices: opts.devices, timeoutMs: opts.timeoutMs,
      mount: opts.dryRun ? 'never' : 'auto',
    });
    if (!found.found) {
      const rejected = found.rejected.map((r) => `${r.device}: ${r.reason}`).join('; ');
      return { result: 'skipped' as const, message: `${found.reason}${rejected ? ` (${rejected})` : ''}`, loaded: undefined };
    }
    return {
      result: 'ok' as const,
      message: `${found.device} label ${found.label} via ${found.method} in ${found.durationMs} ms`,
      loaded: { files: found.files, source: { kind: 'device' as const, path: found.device, label: found.label, method: found.method } },
    };
  }).then((r) => r.loaded);
}

/** Facts about the target system that the pure planner needs. */
function gatherFacts(opts: RunOptions, renderers: readonly NetworkRenderer[]): Facts {
  const nics = opts.nics?.length ? opts.nics : listNics(opts.root);
  const host = (p: string) => (opts.root === '/' ? p : join(opts.root, p));
  let symlinkTarget: string | undefined;
  try {
    if (lstatSync(host('/etc/resolv.conf')).isSymbolicLink()) symlinkTarget = readlinkSync(host('/etc/resolv.conf'));
  } catch { /* absent */ }
  const read = (p: string) => { try { return readFileSync(host(p), 'utf8'); } catch { return undefined; } };
  // Files matching a backend's naming but lacking its ownership marker are the user's (e.g. ifcfg-eth0 written
  // by the installer): never removed, never overwritten.
  const { owned, foreign } = findBackendFiles(opts.root, renderers);
  return {
    nics,
    resolvConf: symlinkTarget !== undefined ? { symlinkTarget } : {},
    currentHosts: read('/etc/hosts'),
    currentAuthorizedKeys: read('/root/.ssh/authorized_keys'),
    existingOwned: owned,
    foreign,
  };
}

function summarize(net: NetworkConfig, backend: string, kind: NetworkSummary['kind']): NetworkSummary {
  return {
    kind, backend,
    nics: net.nics.map((n) => ({
      name: n.name, mac: n.mac, method: n.method,
      ...(n.ipv4 ? { ipv4: `${n.ipv4.address.address}/${n.ipv4.address.prefix}` } : {}),
      ...(n.ipv6 ? { ipv6: `${n.ipv6.address.address}/${n.ipv6.address.prefix}` } : {}),
    })),
  };
}

function describeNetwork(net: NetworkConfig, backend: string): string {
  const parts = net.nics.map((n) => `${n.name} ${n.method === 'static' && n.ipv4 ? `${n.ipv4.address.address}/${n.ipv4.address.prefix}${n.ipv4.gateway ? ` gw ${n.ipv4.gateway}` : ''}` : n.method}`);
  return `${backend}: ${parts.join(', ') || 'no NIC configured'}`;
}

async function applyPlanned(planned: PlannedContext, opts: RunOptions): Promise<string> {
  for (const n of planned.plan.notes) opts.logger.warn(n);
  if (opts.dryRun) {
    opts.out(formatPlan(planned.plan));
    return 'dry run: plan printed, nothing changed';
  }
  const r = await applyPlan(planned.plan, { root: opts.root, live: opts.root === '/', logger: opts.logger });
  const failed = r.commands.filter((c) => !c.ok).length;
  return `${r.written.length} written, ${r.unchanged.length} unchanged, ${r.removed.length} removed${failed ? `, ${failed} optional command(s) failed` : ''}`;
}

function finishStage(paths: AgentPaths, opts: RunOptions, rec: StageRecorder, meta: { instanceId?: string; source?: SourceStatus }): void {
  const stage = rec.finish();
  let previous;
  try { previous = readStatus(paths.statusFile); } catch { previous = undefined; }
  const status = mergeStage(previous, stage, { agentVersion: AGENT_VERSION, ...meta });
  if (!opts.dryRun) writeStatus(paths.statusFile, status);
  opts.out(formatSummaryLine(status));
}

export async function runLocal(opts: RunOptions): Promise<number> {
  const paths = agentPaths(opts.root);
  const off = disabledReason(paths, opts.root);
  if (off) {
    opts.out(`contextualization: disabled (${off}); nothing done`);
    return EXIT.disabled;
  }
  // An explicit --iso/--dir is an operator's command, not a boot: bad input fails fast with every problem
  // listed and nothing on disk touched (no fallback, no status, no lock file).
  if (opts.iso || opts.dir) {
    try {
      parseContext(opts.iso ? readContextIso(opts.iso, DEFAULT_LIMITS) : await readContextDir(opts.dir!));
    } catch (e) {
      const where = opts.iso ?? opts.dir;
      for (const line of (e as Error).message.split('\n')) process.stderr.write(`contextualization: ${where}: ${line}\n`);
      return EXIT.invalidContext;
    }
  }
  return withLock(paths, opts, async () => {
    const rec = new StageRecorder('local');
    const sys = makeSystemView(opts.root);
    const renderer = pickRenderer(sys, opts.backend);
    const facts = { ...gatherFacts(opts, Object.values(RENDERERS)), sys };
    const previous = readInstanceRecord(paths.instanceFile, opts.logger);
    let exit: number = EXIT.ok;
    let instanceId: string | undefined;
    let source: SourceStatus = { kind: 'none' };
    let ctx: Context | undefined;

    const loaded = await loadContext(opts, rec).catch((e: Error) => {
      opts.logger.error(e.message);
      exit = EXIT.invalidContext;
      return undefined;
    });
    if (loaded) {
      source = loaded.source;
      try {
        ctx = (await rec.run('parse', () => {
          const c = parseContext(loaded.files);
          return { result: 'ok' as const, message: `${loaded.files.size} file(s)`, ctx: c };
        })).ctx;
      } catch (e) {
        // Every problem on its own line, on the console: the operator sees exactly what to fix.
        for (const line of (e as Error).message.split('\n')) opts.logger.error(`invalid context: ${line}`);
        exit = EXIT.invalidContext;
      }
    }

    let record: InstanceRecord | undefined;
    if (ctx && loaded) {
      instanceId = instanceIdFor(ctx.instanceId, loaded.files);
      const ident = identifyInstance(previous, instanceId);
      record = ident.record;
      if (!opts.dryRun) publishContext(loaded.files, paths.contextDir, opts.logger);
      try {
        const c = ctx;
        const planned = await rec.run('plan', async () => {
          let p: PlannedContext;
          try {
            p = planContext(c, facts, renderer);
          } catch (e) {
            // A NIC of the context not there yet is usually udev still working at boot: settle, look again once.
            if (!(e instanceof NicNotFoundError) || opts.root !== '/' || opts.nics?.length) throw e;
            opts.logger.info(`${e.message.split('\n')[0]}; waiting for udev and retrying once`);
            await execa('udevadm', ['settle', '--timeout=10'], { reject: false, timeout: 15_000 });
            facts.nics = listNics(opts.root);
            p = planContext(c, facts, renderer);
          }
          return { result: 'ok' as const, message: describeNetwork(p.network, renderer.name), p };
        });
        const p = planned.p;
        await rec.run('apply', async () => ({ result: 'ok' as const, message: await applyPlanned(p, opts) }));
        const kind = p.network.nics.some((n) => n.method === 'static') ? 'static' : 'dhcp';
        record = withNetworkApplied(record, summarize(p.network, renderer.name, kind));
      } catch (e) {
        if (e instanceof ContextError) {
          for (const line of e.message.split('\n')) opts.logger.error(`invalid context: ${line}`);
          exit = EXIT.invalidContext;
          ctx = undefined; // fall back below
        } else {
          opts.logger.error(`apply failed: ${(e as Error).message}`);
          exit = EXIT.applyFailed;
        }
      }
    }

    if (!ctx) {
      // No usable context: keep an earlier instance's working config, else DHCP on the first NIC.
      const decision = decideWithoutContext(previous);
      if (decision.action === 'keep-previous') {
        rec.add({ name: 'network', result: 'skipped', message: decision.reason, durationMs: 0, startedAt: new Date().toISOString() });
      } else {
        try {
          await rec.run('dhcp-fallback', async () => {
            const choice = chooseFallbackNic(facts.nics);
            if (!choice.nic) return { result: 'failed' as const, message: choice.reason };
            const planned = planDhcpFallback(choice.nic, facts, renderer);
            const msg = await applyPlanned(planned, opts);
            if (!opts.dryRun) {
              const base = previous ?? { schema: 1 as const, id: 'none', firstSeen: new Date().toISOString(), lastSeen: new Date().toISOString() };
              writeInstanceRecord(paths.instanceFile, withNetworkApplied(base, summarize(planned.network, renderer.name, 'dhcp-fallback')));
            }
            return { result: 'ok' as const, message: `${decision.reason}: DHCP on ${choice.nic.name} (${choice.reason}) via ${renderer.name}; ${msg}` };
          });
        } catch (e) {
          opts.logger.error(`DHCP fallback failed: ${(e as Error).message}`);
          if (exit === EXIT.ok) exit = EXIT.applyFailed;
        }
      }
    } else if (record && !opts.dryRun) {
      writeInstanceRecord(paths.instanceFile, record);
    }

    finishStage(paths, opts, rec, { instanceId, source });
    return exit;
  });
}

export async function runFinal(opts: RunOptions): Promise<number> {
  const paths = agentPaths(opts.root);
  const off = disabledReason(paths, opts.root);
  if (off) {
    opts.out(`contextualization: disabled (${off}); nothing done`);
    return EXIT.disabled;
  }
  return withLock(paths, opts, async () => {
    const rec = new StageRecorder('final');
    let exit: number = EXIT.ok;
    let instanceId: string | undefined;
    let files: ContextFiles | undefined;
    try {
      files = opts.iso ? readContextIso(opts.iso, DEFAULT_LIMITS)
        : opts.dir ? await readContextDir(opts.dir)
        : existsSync(paths.contextDir) ? await readContextDir(paths.contextDir) : undefined;
    } catch (e) {
      opts.logger.error((e as Error).message);
    }
    if (!files) {
      rec.add({ name: 'post-install', result: 'skipped', message: 'no context this boot', durationMs: 0, startedAt: new Date().toISOString() });
    } else {
      let ctx: Context | undefined;
      try {
        ctx = parseContext(files);
      } catch (e) {
        rec.add({ name: 'post-install', result: 'skipped', message: `invalid context: ${(e as Error).message.split('\n')[0]}`, durationMs: 0, startedAt: new Date().toISOString() });
        exit = EXIT.invalidContext;
      }
      if (ctx) {
        instanceId = instanceIdFor(ctx.instanceId, files);
        const id = instanceId;
        const pi = ctx.postInstall;
        const c = ctx;
        if (!pi) {
          rec.add({ name: 'post-install', result: 'skipped', message: 'the context has no post-install script', durationMs: 0, startedAt: new Date().toISOString() });
        } else {
          // systemd stopping the unit (or shutdown) sends SIGTERM: pass it on to the script's whole group.
          const abort = new AbortController();
          const onTerm = (): void => abort.abort();
          process.once('SIGTERM', onTerm);
          const r = await rec.run('post-install', async () => {
            const res = await runPostInstall({
              root: opts.root, script: pi.script, mode: pi.mode, timeoutSec: pi.timeoutSec, instanceId: id,
              env: postInstallEnv(c, id), logger: opts.logger, dryRun: opts.dryRun, signal: abort.signal,
            });
            if (!res.ran) return { result: 'skipped' as const, message: res.skippedReason ?? 'not run', res };
            const ok = res.exitCode === 0 && !res.timedOut;
            const how = res.timedOut ? `timed out after ${pi.timeoutSec} s` : res.signal ? `killed by ${res.signal}` : `exit code ${res.exitCode}`;
            return { result: ok ? 'ok' as const : 'failed' as const, message: `${how} in ${res.durationMs} ms; log ${res.logFile ?? ''}`, res };
          });
          process.removeListener('SIGTERM', onTerm);
          if (r.result === 'failed') exit = EXIT.postInstallFailed;
        }
      }
    }
    finishStage(paths, opts, rec, { instanceId });
    return exit;
  });
}

/** `--nic eth0=52:54:00:12:34:56` for rendering into an image root that has no /sys. */
export function parseNicDeclaration(spec: string): SystemNic {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,14})=(.+)$/.exec(spec);
  const mac = m ? normalizeMac(m[2]!) : undefined;
  if (!m || !mac) throw new Error(`--nic ${JSON.stringify(spec)}: expected NAME=MAC, e.g. eth0=52:54:00:12:34:56`);
  return { name: m[1]!, mac, carrier: true, physical: true };
}

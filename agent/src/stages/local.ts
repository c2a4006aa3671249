/**
 * Stage `local` (before the network starts): find the context, parse and plan it, decide, apply.
 * Only a context this stage accepted and applied is published for `final`; a refused one, or a boot
 * that fell back, leaves nothing that could run post-install.
 */
import { parseContext, readContextDir } from '../../../lib/context/index.js';
import type { ContextFiles } from '../../../lib/context/model.js';
import { applyPlan } from '../apply/apply.js';
import { DEFAULT_LIMITS, discoverContext, publishContext, readContextIso, unpublishContext } from '../discover/index.js';
import { pickRenderer, RENDERERS } from '../network/renderers/index.js';
import { makeSystemView } from '../system/view.js';
import { NicNotFoundError } from '../network/resolve.js';
import type { NetworkConfig, NetworkRenderer } from '../types/network.js';
import { chooseFallbackNic } from '../plan/fallback-nic.js';
import { formatPlan, planContext, planDhcpFallback, type Facts, type PlannedContext } from '../plan/planner.js';
import { identifyInstance, instanceIdFor, readInstanceRecord, withNetworkApplied, writeInstanceRecord, type InstanceRecord, type NetworkSummary } from '../state/instance.js';
import { PATHS } from '../state/paths.js';
import type { SourceStatus } from '../state/status.js';
import { skipReason } from '../steps/post-install.js';
import { gatherFacts, rereadNics } from '../system/facts.js';
import { runProgram } from '../system/exec.js';
import { decide, type Loaded, type Signer } from './decide.js';
import { machineBinding, readTrustConfig, recordSerial, verifySource } from '../trust/signature.js';
import type { Context } from '../../../lib/context/model.js';
import { planGrowRoot } from '../steps/grow-root.js';
import { planIdentity, systemRandom } from '../steps/identity.js';
import { gatherGrowRootFacts, gatherIdentityFacts, mergeOptOuts, readIdentityConf, rootView } from '../system/identity-facts.js';
import { runStage, type RunOptions, type StageContext, type StageResult } from './engine.js';
import { noteTexts } from '../types/plan.js';
import { EXIT, errorLines } from './exit.js';

/** `--iso`/`--dir` (an operator's input on the host) or undefined for discovery. */
type Explicit = { files: ContextFiles; source: SourceStatus };

async function readExplicit(opts: RunOptions): Promise<Explicit | undefined> {
  if (opts.iso) return { files: readContextIso(opts.iso, DEFAULT_LIMITS), source: { kind: 'iso', path: opts.iso, method: 'reader' } };
  if (opts.dir) return { files: await readContextDir(opts.dir), source: { kind: 'dir', path: opts.dir } };
  return undefined;
}

export async function runLocal(opts: RunOptions): Promise<number> {
  // An explicit --iso/--dir is an operator's command, not a boot: bad input fails fast with every problem
  // listed and nothing on disk touched (no fallback, no status, no lock file).
  // Read once: the stage uses the very files that were checked here.
  let explicit: Explicit | undefined;
  if (opts.iso || opts.dir) {
    const where = opts.iso ?? opts.dir;
    try {
      explicit = await readExplicit(opts);
      parseContext(explicit!.files);
    } catch (e) {
      for (const line of errorLines(e)) process.stderr.write(`contextualization: ${where}: ${line}\n`);
      return EXIT.invalidContext;
    }
  }
  return runStage('local', opts, (s) => localStage(s, explicit));
}

async function localStage(s: StageContext, explicit: Explicit | undefined): Promise<StageResult> {
  const { opts, fs, rec, log } = s;
  const sys = makeSystemView(fs);
  const renderer = pickRenderer(sys, opts.backend);
  const facts = gatherFacts(fs, sys, Object.values(RENDERERS), opts.nics);
  const previous = readInstanceRecord(fs, log);

  const loaded = await load(s, facts, renderer, explicit);
  const outcome = decide(loaded, previous);
  const source = loaded.kind === 'none' ? { kind: 'none' as const } : loaded.source;
  let exit: number = loaded.kind === 'refused' ? EXIT.invalidContext : EXIT.ok;

  if (outcome.action === 'apply' && loaded.kind === 'accepted') {
    const { planned, instanceId } = outcome;
    try {
      await rec.run('apply', async () => ({ result: 'ok' as const, message: await applyPlanned(planned, s) }));
    } catch (e) {
      for (const l of errorLines(e)) log.error(`apply failed: ${l}`);
      if (!opts.dryRun) unpublishContext(fs);
      return { exit: EXIT.applyFailed, instanceId, source };
    }
    if (outcome.firstBoot) await renewIdentity(s, loaded.ctx);
    if (!opts.dryRun) {
      const record = withNetworkApplied(identifyInstance(previous, instanceId).record, summarize(planned.network, renderer.name, planned.network.nics.some((n) => n.method === 'static') ? 'static' : 'dhcp'));
      writeInstanceRecord(fs, record);
      publishContext(fs, loaded.files, log);
      recordSerial(fs, loaded.signer?.serial);
      markFinalPending(s, loaded, instanceId);
    }
    return { exit, instanceId, source };
  }

  // Nothing of a refused context survives this boot: no copy for `final`, no pending post-install.
  if (!opts.dryRun) {
    unpublishContext(fs);
    fs.remove(PATHS.finalPending);
  }
  if (outcome.action === 'keep-previous') {
    rec.add({ name: 'network', result: 'skipped', message: outcome.reason, durationMs: 0, startedAt: new Date().toISOString() });
    return { exit, source };
  }
  // The first boot of a freshly built image (nothing recorded yet) is a new machine too.
  if (!previous) await renewIdentity(s, undefined);
  try {
    await rec.run('dhcp-fallback', async () => {
      const choice = chooseFallbackNic(facts.nics);
      if (!choice.nic) return { result: 'failed' as const, message: choice.reason };
      const planned = planDhcpFallback(choice.nic, facts, renderer);
      const msg = await applyPlanned(planned, s);
      if (!opts.dryRun) {
        const now = new Date().toISOString();
        const base: InstanceRecord = previous ?? { schema: 1, id: 'none', firstSeen: now, lastSeen: now };
        writeInstanceRecord(fs, withNetworkApplied(base, summarize(planned.network, renderer.name, 'dhcp-fallback')));
      }
      return { result: 'ok' as const, message: `${outcome.reason}: DHCP on ${choice.nic.name} (${choice.reason}) via ${renderer.name}; ${msg}` };
    });
  } catch (e) {
    for (const l of errorLines(e)) log.error(`DHCP fallback failed: ${l}`);
    if (exit === EXIT.ok) exit = EXIT.applyFailed;
  }
  return { exit, source };
}

/** Read, parse and plan: every way a context can be unusable ends here as `refused` with its reason. */
async function load(s: StageContext, facts: Facts, renderer: NetworkRenderer, explicit: Explicit | undefined): Promise<Loaded> {
  const { opts, fs, rec, log } = s;
  let found: Explicit | undefined;
  try {
    found = await rec.run('find-context', async () => {
      if (explicit) return { result: 'ok' as const, message: `${explicit.source.kind} ${explicit.source.path}`, found: explicit };
      const r = await discoverContext({
        fs, logger: log, label: opts.label, devices: opts.devices, timeoutMs: opts.timeoutMs, mount: opts.dryRun ? 'never' : 'auto',
      });
      if (!r.found) return { result: 'skipped' as const, message: r.reason, found: undefined };
      return {
        result: 'ok' as const,
        message: `${r.device} label ${r.label} via ${r.method} in ${r.durationMs} ms`,
        found: { files: r.files, source: { kind: 'device' as const, path: r.device, label: r.label, method: r.method } },
      };
    }).then((r) => r.found);
  } catch (e) {
    for (const l of errorLines(e)) log.error(l);
    return { kind: 'refused', source: { kind: 'none' }, reason: errorLines(e)[0] ?? 'unreadable' };
  }
  if (!found) return { kind: 'none', reason: 'no context CD' };
  const { source } = found;
  let files = found.files;
  // Signed contexts: only when the image trusts keys; otherwise behaviour is exactly as before.
  const trust = readTrustConfig(fs);
  for (const p of trust.problems) log.warn(p);
  let signer: Signer | undefined;
  let rootPowers = true;
  if (trust.pinned) {
    let v: ReturnType<typeof verifySource>;
    try {
      v = verifySource(fs, source, files, trust, machineBinding(fs, facts.nics.map((n) => n.mac)), opts.label ?? 'CONTEXT');
    } catch (e) {
      v = { verdict: { ok: false, why: `cannot read it to verify: ${errorLines(e)[0]}` }, files };
    }
    const verdict = v.verdict;
    if (verdict.ok) {
      files = v.files; // exactly the bytes that were verified
      signer = { keyId: verdict.keyId, ...(verdict.manifest.serial !== undefined ? { serial: verdict.manifest.serial } : {}) };
      rec.add({ name: 'signature', result: 'ok', message: `signed by key ${verdict.keyId}${verdict.manifest.serial !== undefined ? `, serial ${verdict.manifest.serial}` : ''}`, durationMs: 0, startedAt: new Date().toISOString() });
    } else if (trust.policy === 'whole') {
      log.error(`signature: context refused: ${verdict.why}`);
      rec.add({ name: 'signature', result: 'failed', message: `context refused: ${verdict.why}`, durationMs: 0, startedAt: new Date().toISOString() });
      return { kind: 'refused', source, reason: verdict.why };
    } else {
      rootPowers = false;
      log.warn(`signature: ${verdict.why}; post-install and SSH keys dropped (policy scripts-and-keys)`);
      rec.add({ name: 'signature', result: 'skipped', message: `${verdict.why}; post-install and SSH keys dropped`, durationMs: 0, startedAt: new Date().toISOString() });
    }
  }
  try {
    const ctx = (await rec.run('parse', () => ({ result: 'ok' as const, message: `${files.size} file(s)`, ctx: parseContext(files) }))).ctx;
    if (!rootPowers) {
      delete ctx.postInstall;
      ctx.authorizedKeys = [];
    }
    const instanceId = instanceIdFor(ctx.instanceId, files);
    const planned = await rec.run('plan', async () => {
      const p = await planWithRetry(s, ctx, facts, renderer);
      return { result: 'ok' as const, message: describeNetwork(p.network, renderer.name), p };
    });
    return { kind: 'accepted', source: signer ? { ...source, signer: signer.keyId } : source, files: rootPowers ? files : withoutRootPowers(files), ctx, instanceId, planned: planned.p, ...(signer ? { signer } : {}) };
  } catch (e) {
    // Every problem on its own line, on the console: the operator sees exactly what to fix.
    for (const l of errorLines(e)) log.error(`invalid context: ${l}`);
    return { kind: 'refused', source, reason: errorLines(e)[0] ?? 'invalid' };
  }
}

async function planWithRetry(s: StageContext, ctx: Parameters<typeof planContext>[0], facts: Facts, renderer: NetworkRenderer): Promise<PlannedContext> {
  try {
    return planContext(ctx, facts, renderer);
  } catch (e) {
    // A NIC of the context not there yet is usually udev still renaming at boot: settle, look again once.
    if (!(e instanceof NicNotFoundError) || !s.fs.isLive || s.opts.nics?.length) throw e;
    s.log.info(`${errorLines(e)[0]}; waiting for udev and retrying once`);
    const udevadm = ['/usr/bin/udevadm', '/bin/udevadm'].find((p) => s.fs.kind(p) !== 'absent');
    if (udevadm) await runProgram(udevadm, ['settle', '--timeout=10'], { reject: false, timeout: 15_000 });
    facts.nics = rereadNics(s.fs);
    return planContext(ctx, facts, renderer);
  }
}

/**
 * A new instance on this disk becomes a new machine before any service uses its identity: machine-id,
 * SSH host keys, DHCP client identity, random seed, and a root filesystem grown to its disk. Failures
 * are recorded and logged but never stop the network from being configured.
 */
async function renewIdentity(s: StageContext, ctx: Context | undefined): Promise<void> {
  const { fs, rec, log, opts } = s;
  const view = rootView(fs);
  const conf = readIdentityConf(view);
  for (const p of conf.problems) log.warn(p);
  const optOuts = mergeOptOuts(conf.optOuts, ctx?.identity);
  const noNetwork = { nics: [], dns: { nameservers: [], search: [] } };
  try {
    await rec.run('identity', async () => {
      const started = performance.now();
      const id = planIdentity(gatherIdentityFacts(view), optOuts, systemRandom, ctx?.hostname ? { hostname: ctx.hostname } : {});
      const planned = performance.now();
      const msg = await applyPlanned({ plan: id.plan, network: noNetwork }, s);
      // Admins compare these on first login: on the console and in status.
      for (const k of id.hostKeys) opts.out(`contextualization: new SSH host key ${k.fingerprint}`);
      // Where the step's time went (keys are inside "facts, keys and plan"; each key's own time is above).
      const split = `facts, keys and plan ${Math.round(planned - started)} ms, writes ${Math.round(performance.now() - planned)} ms`;
      return { result: 'ok' as const, message: `${id.summary.join('; ')}; ${msg} (${split})` };
    });
  } catch (e) {
    for (const l of errorLines(e)) log.error(`identity: ${l}`);
  }
  // A disk only grows on the running system (an image root's disk is not ours to resize); its own step,
  // so status.json shows the identity's cost apart from resize2fs's.
  if (!fs.isLive) return;
  try {
    await rec.run('grow-root', async () => {
      const plan = planGrowRoot(gatherGrowRootFacts(view), optOuts);
      const msg = await applyPlanned({ plan, network: noNetwork }, s);
      return { result: 'ok' as const, message: `${noteTexts(plan.notes).join('; ') || 'root filesystem checked'}; ${msg}` };
    });
  } catch (e) {
    for (const l of errorLines(e)) log.error(`grow-root: ${l}`);
  }
}

/** An unsigned context under the scripts-and-keys policy: what is published for `final` has no script. */
function withoutRootPowers(files: ContextFiles): ContextFiles {
  return new Map([...files].filter(([p]) => p !== 'post-install' && p !== 'common/authorized_keys'));
}

/** The final unit starts only when there is a post-install to run this boot (its ConditionPathExists). */
function markFinalPending(s: StageContext, loaded: Extract<Loaded, { kind: 'accepted' }>, instanceId: string): void {
  const pi = loaded.ctx.postInstall;
  const why = pi ? skipReason({ fs: s.fs, mode: pi.mode, instanceId, script: pi.script }) : 'the context has no post-install script';
  if (why) {
    s.fs.remove(PATHS.finalPending);
    s.log.debug(`final stage not needed: ${why}`);
  } else {
    s.fs.writeFileAtomic(PATHS.finalPending, `${instanceId}\n`, 0o644);
  }
}

async function applyPlanned(planned: PlannedContext, s: StageContext): Promise<string> {
  for (const n of planned.plan.notes) s.log[n.level](n.text);
  if (s.opts.dryRun) {
    s.opts.out(formatPlan(planned.plan));
    return 'dry run: plan printed, nothing changed';
  }
  const r = await applyPlan(planned.plan, { fs: s.fs, live: s.fs.isLive, logger: s.log });
  const failed = r.commands.filter((c) => !c.ok).length;
  const deferred = r.commands.filter((c) => c.skipped).length;
  return `${r.written.length} written, ${r.unchanged.length} unchanged, ${r.removed.length} removed${failed ? `, ${failed} optional command(s) failed` : ''}${deferred ? `, ${deferred} command(s) left to the starting service` : ''}`;
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

/**
 * `contextgen batch INVENTORY.ini`: many VMs at once. Order: read + check the inventory, scan what
 * exists (OUTDIR, and libvirt with --define), plan every VM (all problems reported together), then
 * write everything in one transaction, then define the domains.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ContextError, type Problem } from '../../../lib/context/errors.js';
import { EXIT, ExternalError, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { startProgress } from '../progress.js';
import { readInventory } from '../batch/inventory.js';
import { scanLibvirt, scanOutDir, type ExistingVm } from '../batch/existing.js';
import { defineDomain, domainState, startDomain } from '../libvirt/virsh.js';
import { placeVms } from '../batch/placement.js';
import { checkHosts } from '../batch/hosts.js';
import { undoVolumes, writeVolumes } from '../batch/volumes.js';
import { planBatch, type VmPlan } from '../batch/plan.js';
import { writeBatch } from '../batch/write.js';
import { loadManifest } from '../batch/manifest.js';
import { resolveMtime } from './iso.js';

export interface BatchOptions {
  inventory: string;
  out?: string;
  define?: boolean;
  connect?: string;
  dryRun?: boolean;
  force?: boolean;
  /** Regenerate contexts and configs of existing VMs; never create or touch disks. */
  contextsOnly?: boolean;
  /** Recreate existing overlays (refused while libvirt reports the domain running). */
  recreateDisks?: boolean;
  /** false: do not require `disk = PATH` images to exist here (generating for another host). */
  checkPaths?: boolean;
  mtime?: string;
  /** Start each domain after defining it (needs --define). */
  start?: boolean;
  /** VMs in flight while writing (default 4). */
  concurrency?: number;
}

export interface BatchResult {
  vms: VmPlan[];
  files: number;
  defined: number;
  started: number;
  /** Pool volumes created on [host] sections. */
  volumes: number;
  seconds: number;
  outDir: string;
  dryRun: boolean;
}

export async function runBatch(o: BatchOptions, io: Io): Promise<BatchResult> {
  const started = performance.now();
  const invPath = resolve(io.cwd, o.inventory);
  let text: string;
  try {
    text = await readFile(invPath, 'utf8');
  } catch (e) {
    throw new ContextError([{ file: o.inventory, why: `cannot read inventory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  if (o.start && !o.define) throw new UsageError('--start needs --define (a domain must be defined before libvirt can start it)');
  const { inventory, problems } = readInventory(text, o.inventory, dirname(invPath));
  const early: Problem[] = [...problems];
  const mtime = resolveMtime(o.mtime, io.env, early);
  // Bad values keep their defaults, so planning still runs and finds the cross-VM problems too:
  // one run reports everything. Only an inventory that yields no VM at all stops here.
  if (early.length && inventory.vms.length === 0) throw new ContextError(early);

  const outDir = resolve(io.cwd, o.out ?? '.');
  const m = await loadManifest(outDir);
  if ('problem' in m) throw new ContextError([m.problem]);
  const scanned = await scanOutDir(outDir);
  for (const w of scanned.warnings) io.err(`contextgen: warning: ${w}`);
  const existing: ExistingVm[] = [...scanned.vms];
  const uri = o.connect ?? 'qemu:///system';
  // [host NAME] sections: each VM is placed on a host and defined at its URI (--connect is for local mode).
  const placement = placeVms(inventory, m.manifest);
  early.push(...placement.problems);
  const hosts = inventory.hosts.length ? await checkHosts(inventory) : undefined;
  if (hosts) early.push(...hosts.problems);
  const uris = inventory.hosts.length ? [...new Set(inventory.hosts.filter((h) => hosts?.facts.has(h)).map((h) => h.uri))] : [uri];
  if (o.define) for (const u of uris) existing.push(...(await scanLibvirt(u)));

  if (o.contextsOnly && o.recreateDisks) throw new UsageError('--contexts-only and --recreate-disks contradict each other');
  const regen = !!(o.force || o.contextsOnly || o.recreateDisks);
  const plan = await planBatch(inventory, {
    outDir,
    force: !!o.force,
    contextsOnly: o.contextsOnly,
    recreateDisks: o.recreateDisks,
    domainState: (name, at) => domainState(at, name),
    stateUri: uri,
    hostOf: placement.hostOf,
    hostFacts: hosts?.facts,
    manifest: m.manifest,
    existing,
    defineUri: o.define ? uri : undefined,
    seed: m.manifest.seed,
    checkPaths: o.checkPaths,
  });
  for (const w of plan.warnings) io.err(`contextgen: warning: ${w}`);
  if (early.length || plan.problems.length) throw new ContextError([...early, ...plan.problems]);

  if (o.dryRun) {
    for (const vm of plan.vms) io.out(planLine(vm));
    return { vms: plan.vms, files: 0, defined: 0, started: 0, volumes: 0, seconds: (performance.now() - started) / 1000, outDir, dryRun: true };
  }

  const bar = startProgress(io, plan.vms.length, 'writing {bar} {value}/{total} VMs {duration}s');
  // One mtime for the uploaded volumes and the OUTDIR copies: the same ISO bytes in both places.
  const isoTime = mtime ?? new Date();
  // Volumes first, then OUTDIR: a failure in either undoes both (the volumes this run created are deleted).
  const vols = inventory.hosts.length ? await writeVolumes(plan.vms, { mtime: isoTime, manifest: m.manifest }) : undefined;
  let written: { files: number };
  try {
    written = await writeBatch(plan.vms, { manifest: m.manifest, defineUri: o.define ? uri : undefined, volumes: vols?.records, force: regen, mtime: isoTime, outDir, concurrency: o.concurrency, onVm: () => bar?.increment() });
  } catch (e) {
    if (vols) await undoVolumes(vols.created);
    throw e;
  } finally {
    bar?.stop();
  }

  let defined = 0;
  let startedVms = 0;
  if (o.define) {
    const failed: string[] = [];
    for (const vm of plan.vms) {
      const at = vm.host?.uri ?? uri;
      try {
        await defineDomain(at, vm.domainPath);
        defined++;
        // A regenerated VM may be running already: its new definition applies at its next start.
        if (o.start && (await domainState(at, vm.name)) !== 'running') {
          await startDomain(at, vm.name);
          startedVms++;
        }
      } catch (e) {
        failed.push(`VM ${vm.name} (${vm.where}): ${(e as Error).message}`);
      }
    }
    if (failed.length) {
      for (const f of failed) io.err(`contextgen: ${f}`);
      throw new ExternalError(`${failed.length} of ${plan.vms.length} domains not defined${o.start ? ' or started' : ''} (files and volumes were written; ${defined} defined${o.start ? `, ${startedVms} started` : ''})`);
    }
  }
  const volumes = vols?.created.length ?? 0;
  return { vms: plan.vms, files: written.files, defined, started: startedVms, volumes, seconds: (performance.now() - started) / 1000, outDir, dryRun: false };
}

export function planLine(vm: VmPlan): string {
  const addr = vm.address ? `${vm.address}/${vm.prefix}` : 'dhcp';
  const host = vm.host ? `\thost ${vm.host.name} (${vm.host.uri} pool ${vm.host.pool})` : '';
  const nics = (vm.extraNics ?? []).map((n) => `\tnic${n.n} ${n.mac} ${n.address ? `${n.address}/${n.prefix}` : 'dhcp'}`).join('');
  return `${vm.name}\t${addr}\t${vm.mac}\t${vm.uuid}\t${vm.dir}${vm.replaces ? '\t(replace)' : ''}${host}${nics}`;
}

export function batchSummary(r: BatchResult): string {
  const rate = r.seconds > 0 ? Math.round(r.files / r.seconds) : r.files;
  if (r.dryRun) return `batch: dry run, ${r.vms.length} VMs valid, nothing written (${r.seconds.toFixed(2)} s)`;
  const def = `${r.volumes ? `, ${r.volumes} volumes created` : ''}${r.defined ? `, ${r.defined} defined` : ''}${r.started ? `, ${r.started} started` : ''}`;
  return `batch: ${r.vms.length} VMs, ${r.files} files in ${r.outDir}${def} (${r.seconds.toFixed(2)} s, ${rate} files/s)`;
}

/** The CLI wrapper: runs, prints the summary line, returns the exit code. */
export async function runBatchCommand(o: BatchOptions, io: Io): Promise<ExitCode> {
  const r = await runBatch(o, io);
  io.out(batchSummary(r));
  return EXIT.ok;
}

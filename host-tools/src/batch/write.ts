/**
 * Writing a validated batch: per VM a directory with context.iso, the domain config and optionally
 * an overlay. One transaction for the whole batch: on any failure everything this run created is
 * removed again. ISO and XML are built on the main thread while earlier writes' fsyncs run in
 * libuv's pool, so a few VMs are in flight at once; nothing needs more than two cores.
 */
import { isoFromFiles } from '../context-build.js';
import { libvirtDomainXml } from '../domain/libvirt.js';
import { xlConfig } from '../domain/xl.js';
import { ContextError } from '../../../lib/context/errors.js';
import { ExternalError } from '../errors.js';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { WriteTxn } from '../io.js';
import { MANIFEST_NAME, manifestText, type Manifest, type VmRecord, type VolumeRecord } from './manifest.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
import { createOverlay } from '../overlay.js';
import type { VmPlan } from './plan.js';

export interface WriteOptions {
  /** Existing ISOs and configs may be replaced (--force, --contexts-only, --recreate-disks). */
  force: boolean;
  mtime?: Date;
  outDir: string;
  /** Written (or rewritten) as OUTDIR/.contextgen.json with the batch. */
  manifest?: Manifest;
  /** Recorded in the manifest as where the domains are defined (--define); VMs on a [host] use its URI. */
  defineUri?: string;
  /** Pool volumes made (or kept) per VM by writeVolumes, recorded in the manifest. */
  volumes?: Map<string, VolumeRecord[]>;
  /** Called after each VM is written. */
  onVm?: (vm: VmPlan) => void;
  /** VMs in flight at once (I/O overlap, not CPU parallelism). */
  concurrency?: number;
}

/** Prefixes a write failure with the VM it hit (the message already names the real output path). */
function forVm(vm: VmPlan, e: unknown): unknown {
  if (e instanceof ExternalError) return new ExternalError(`VM ${vm.name} (${vm.where}): ${e.message}`);
  if (e instanceof ContextError) return new ContextError(e.problems.map((p) => ({ ...p, why: `${p.why} (VM ${vm.name})` })));
  return e;
}

export async function writeBatch(vms: VmPlan[], o: WriteOptions): Promise<{ files: number }> {
  const txn = new WriteTxn(o.force);
  const records = new Map<string, VmRecord>();
  let files = 0;
  try {
    await txn.mkdirp(o.outDir);
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < vms.length && !failed) {
        const vm = vms[next++]!;
        await txn.mkdirOwn(vm.dir).catch((e: unknown) => Promise.reject(forVm(vm, e)));
        const iso = isoFromFiles(vm.files, { label: vm.label, mtime: o.mtime });
        const cfg = vm.format === 'xl' ? xlConfig(vm.domain) : libvirtDomainXml(vm.domain);
        await Promise.all([txn.writeFile(vm.isoPath, iso, 0o644), txn.writeFile(vm.domainPath, cfg, 0o644)]).catch((e: unknown) => Promise.reject(forVm(vm, e)));
        const prev = o.manifest?.vms[vm.name];
        const disks = new Set(prev?.disks ?? []);
        if (vm.overlay && !vm.overlay.keep) disks.add(basename(vm.overlay.path));
        records.set(vm.name, {
          uuid: vm.uuid,
          mac: vm.mac,
          ...(vm.address ? { address: vm.address, prefix: vm.prefix } : {}),
          ...(o.defineUri ? { uri: vm.host?.uri ?? o.defineUri } : prev?.uri ? { uri: prev.uri } : {}),
          files: { [basename(vm.isoPath)]: sha256(iso), [basename(vm.domainPath)]: sha256(cfg) },
          disks: [...disks],
          ...(vm.host ? { host: vm.host.name } : {}),
          volumes: o.volumes?.get(vm.name) ?? prev?.volumes ?? [],
        });
        files += 2;
        // An existing disk holds the guest's data: it is kept unless --recreate-disks chose to replace it.
        if (vm.overlay && !vm.overlay.keep) {
          const ov = vm.overlay;
          await createOverlay({ backing: ov.backing, backingFormat: ov.backingFormat, output: ov.path, sizeBytes: ov.sizeBytes, force: ov.recreate }, txn).catch((e: unknown) =>
            Promise.reject(forVm(vm, e)),
          );
          files += 1;
        }
        o.onVm?.(vm);
      }
    };
    // On the first failure the other workers finish what they are writing and stop; only then is
    // the transaction rolled back, so nothing in flight lands after the rollback.
    const results = await Promise.allSettled(
      Array.from({ length: Math.max(1, o.concurrency ?? 4) }, () =>
        worker().catch((e: unknown) => {
          failed = true;
          throw e;
        }),
      ),
    );
    const firstError = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstError) throw firstError.reason;
    if (o.manifest) {
      const vms = { ...o.manifest.vms, ...Object.fromEntries(records) };
      await txn.writeFile(join(o.outDir, MANIFEST_NAME), manifestText({ ...o.manifest, vms }), 0o644, true);
    }
    await txn.commit();
  } catch (e) {
    await txn.rollback();
    throw e;
  }
  return { files };
}

/**
 * The remote half of a batch on [host NAME] sections: each VM's context ISO uploaded into a volume
 * (vol-create-as + vol-upload) and its overlay created in the pool against the base volume
 * (vol-create with a qcow2 backingStore), all through libvirt at the host's URI. Runs after every
 * check passed; on a failure the volumes this run created are deleted again. An existing overlay
 * volume (the guest's data) is never deleted unless --recreate-disks chose to.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'xmlbuilder2';
import { isoFromFiles } from '../context-build.js';
import { ExternalError } from '../errors.js';
import { createVolume, createVolumeFromXml, deleteVolume, uploadVolume, volumeInfo } from '../libvirt/virsh.js';
import type { Manifest, VolumeRecord } from './manifest.js';
import type { VmPlan } from './plan.js';

/** libvirt's volume XML for a qcow2 overlay whose backing store is the base volume's path. */
export function overlayVolumeXml(name: string, capacity: number, backingPath: string, backingFormat: string): string {
  const v = create().ele('volume');
  v.ele('name').txt(name);
  v.ele('capacity', { unit: 'bytes' }).txt(String(capacity));
  v.ele('target').ele('format', { type: 'qcow2' });
  const b = v.ele('backingStore');
  b.ele('path').txt(backingPath);
  b.ele('format', { type: backingFormat });
  return v.end({ prettyPrint: true });
}

export interface VolumeResult {
  /** Per VM: the volume records for the manifest (kept ones carried over). */
  records: Map<string, VolumeRecord[]>;
  /** Volumes created by this run (deleted again by undoVolumes). */
  created: VolumeRecord[];
}

export async function writeVolumes(vms: VmPlan[], o: { mtime: Date; manifest: Manifest }): Promise<VolumeResult> {
  const records = new Map<string, VolumeRecord[]>();
  const created: VolumeRecord[] = [];
  const tmp = await mkdtemp(join(tmpdir(), 'contextgen-vol-'));
  try {
    for (const vm of vms) {
      if (!vm.host || !vm.volumes) continue;
      const { uri, pool } = vm.host;
      const prev = o.manifest.vms[vm.name]?.volumes ?? [];
      const list: VolumeRecord[] = [];
      // Recorded as created the moment libvirt made it, so a failure later (upload) still deletes it.
      const made = async (name: string, kind: VolumeRecord['kind'], fill: () => Promise<void>) => {
        const r: VolumeRecord = { uri, pool, name, key: '', kind };
        created.push(r);
        await fill();
        const info = await volumeInfo(uri, pool, name);
        if (!info) throw new ExternalError(`volume ${name} not found in pool ${pool} at ${uri} right after creating it`);
        r.key = info.key;
        list.push(r);
      };
      try {
        // The same bytes as OUTDIR/<name>/context.iso (same files, label and mtime).
        const iso = isoFromFiles(vm.files, { label: vm.label, mtime: o.mtime });
        const ctx = vm.volumes.context;
        if (ctx.replace) await deleteVolume(uri, pool, ctx.name); // ours (checked by the plan): a new ISO replaces it
        const isoFile = join(tmp, `${vm.name}.iso`);
        await writeFile(isoFile, iso);
        await createVolume(uri, pool, ctx.name, iso.length, 'raw');
        await made(ctx.name, 'context', () => uploadVolume(uri, pool, ctx.name, isoFile));
        const d = vm.volumes.disk;
        if (d?.keep) {
          const old = prev.find((r) => r.name === d.name && r.pool === pool);
          if (old) list.push(old);
        } else if (d) {
          if (d.recreate) await deleteVolume(uri, pool, d.name);
          const xmlFile = join(tmp, `${vm.name}.vol.xml`);
          await writeFile(xmlFile, overlayVolumeXml(d.name, d.capacity, d.backingPath, d.backingFormat));
          await createVolumeFromXml(uri, pool, xmlFile, d.name);
          await made(d.name, 'disk', async () => undefined);
        }
      } catch (e) {
        throw new ExternalError(`VM ${vm.name} (${vm.where}): ${(e as Error).message}`);
      }
      records.set(vm.name, list);
    }
  } catch (e) {
    await undoVolumes(created);
    throw e;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { records, created };
}

/** Deletes volumes a failed run created (best effort: a failure here must not hide the first one). */
export async function undoVolumes(created: VolumeRecord[]): Promise<void> {
  for (const r of created.reverse()) await deleteVolume(r.uri, r.pool, r.name).catch(() => undefined);
}

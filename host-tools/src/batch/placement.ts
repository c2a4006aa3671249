/**
 * Which [host NAME] each VM goes on. Deterministic: a VM the manifest records on a host stays there
 * (its volumes are there); `host = NAME` pins a VM; the others fill the hosts in inventory order,
 * each up to its capacity (VMs of this OUTDIR already there count). Pure: no libvirt call.
 */
import type { Problem } from '../../../lib/context/errors.js';
import type { HostSpec, Inventory, VmRequest } from './inventory.js';
import type { Manifest } from './manifest.js';

export interface Placement {
  hostOf: Map<VmRequest, HostSpec>;
  problems: Problem[];
}

const some = (l: string[]) => `${l.slice(0, 3).join(', ')}${l.length > 3 ? ` and ${l.length - 3} more` : ''}`;

export function placeVms(inv: Inventory, manifest: Manifest): Placement {
  const hostOf = new Map<VmRequest, HostSpec>();
  const problems: Problem[] = [];
  const file = inv.file;
  if (inv.hosts.length === 0) {
    for (const vm of inv.vms) {
      if (vm.settings.host) problems.push({ file, key: `${vm.settings.origin.host ?? vm.where} host`, value: vm.settings.host, why: 'no [host NAME] section in the inventory' });
    }
    return { hostOf, problems };
  }
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  const load = new Map<HostSpec, VmRequest[]>(inv.hosts.map((h) => [h, []]));
  const inBatch = new Set(inv.vms.map((v) => v.name));
  // Recorded VMs of this OUTDIR the inventory does not list any more still occupy their host.
  const others = new Map<string, number>();
  for (const [name, rec] of Object.entries(manifest.vms)) if (rec.host && !inBatch.has(name)) others.set(rec.host, (others.get(rec.host) ?? 0) + 1);
  const used = (h: HostSpec) => load.get(h)!.length + (others.get(h.name) ?? 0);

  const free: VmRequest[] = [];
  for (const vm of inv.vms) {
    const recorded = manifest.vms[vm.name]?.host;
    const pinned = vm.settings.host;
    const pinKey = `${vm.settings.origin.host ?? vm.where} host`;
    if (recorded !== undefined) {
      const h = byName.get(recorded);
      if (!h) problems.push({ file, key: vm.where, value: recorded, why: `the manifest records this VM on [host ${recorded}], which the inventory no longer has (its volumes are there: remove the VM first, or add the section back)` });
      else if (pinned !== undefined && pinned !== recorded) problems.push({ file, key: pinKey, value: pinned, why: `${vm.name} is already on [host ${recorded}] (manifest); a VM is not moved (remove it first)` });
      else {
        hostOf.set(vm, h);
        load.get(h)!.push(vm);
      }
    } else if (pinned !== undefined) {
      const h = byName.get(pinned);
      if (!h) problems.push({ file, key: pinKey, value: pinned, why: `no [host ${pinned}] section (hosts: ${inv.hosts.map((x) => x.name).join(', ')})` });
      else {
        hostOf.set(vm, h);
        load.get(h)!.push(vm);
      }
    } else free.push(vm);
  }
  const unplaced: VmRequest[] = [];
  for (const vm of free) {
    const h = inv.hosts.find((x) => x.capacity === undefined || used(x) < x.capacity);
    if (!h) {
      unplaced.push(vm);
      continue;
    }
    hostOf.set(vm, h);
    load.get(h)!.push(vm);
  }
  for (const h of inv.hosts) {
    if (h.capacity !== undefined && used(h) > h.capacity) {
      const vms = load.get(h)!.map((v) => v.where);
      problems.push({ file, key: `${h.where} capacity`, value: String(h.capacity), why: `${used(h)} VMs would be on this host (${some(vms)}${others.get(h.name) ? ` and ${others.get(h.name)} recorded earlier` : ''})` });
    }
  }
  if (unplaced.length) {
    const total = inv.hosts.reduce((n, h) => n + (h.capacity ?? Infinity), 0);
    problems.push({
      file,
      key: inv.hosts.map((h) => h.where).join(', '),
      value: undefined,
      why: `no host has room for ${unplaced.length} VM(s) (first: ${unplaced[0]!.where}); total capacity is ${total}: raise capacity or add a [host NAME] section`,
    });
  }
  return { hostOf, problems };
}

/**
 * Checks of the [host NAME] sections against the real hosts, before anything is written anywhere:
 * libvirt reachable at the URI, the storage pool there and running, the base volume present (its
 * path, format and size are what overlays are created against). One problem line per host and key.
 */
import type { Problem } from '../../../lib/context/errors.js';
import { poolInfo, volumeInfo, volumeNames, type VolumeInfo } from '../libvirt/virsh.js';
import type { HostSpec, Inventory } from './inventory.js';

export interface HostFacts {
  base?: VolumeInfo;
  /** Volumes already in the pool, by name. */
  volumes: Set<string>;
}

export async function checkHosts(inv: Inventory): Promise<{ facts: Map<HostSpec, HostFacts>; problems: Problem[] }> {
  const facts = new Map<HostSpec, HostFacts>();
  const problems: Problem[] = [];
  const file = inv.file;
  // Hosts are independent: asked in parallel (each may be an ssh round trip).
  await Promise.all(
    inv.hosts.map(async (h) => {
      try {
        const pool = await poolInfo(h.uri, h.pool);
        if (!pool) return problems.push({ file, key: `${h.where} pool`, value: h.pool, why: `no such storage pool at ${h.uri} (virsh pool-define-as / pool-start it)` });
        if (pool.state !== 'running') return problems.push({ file, key: `${h.where} pool`, value: h.pool, why: `storage pool at ${h.uri} is ${pool.state}, not running (virsh pool-start ${h.pool})` });
        const f: HostFacts = { volumes: new Set(await volumeNames(h.uri, h.pool)) };
        if (h.baseVolume) {
          f.base = await volumeInfo(h.uri, h.pool, h.baseVolume);
          if (!f.base) problems.push({ file, key: `${h.where} base_volume`, value: h.baseVolume, why: `no such volume in pool ${h.pool} at ${h.uri}` });
          else if (f.base.format !== 'qcow2' && f.base.format !== 'raw') problems.push({ file, key: `${h.where} base_volume`, value: h.baseVolume, why: `volume format is ${f.base.format ?? 'unknown'}, not qcow2 or raw` });
        }
        facts.set(h, f);
      } catch (e) {
        problems.push({ file, key: `${h.where} uri`, value: h.uri, why: `cannot reach libvirt: ${(e as Error).message.split('\n')[0]}` });
      }
      return undefined;
    }),
  );
  const order = new Map(inv.hosts.map((h, i) => [h.where, i]));
  problems.sort((a, b) => (order.get(/^\[host [^\]]+\]/.exec(a.key ?? '')?.[0] ?? '') ?? 0) - (order.get(/^\[host [^\]]+\]/.exec(b.key ?? '')?.[0] ?? '') ?? 0));
  return { facts, problems };
}

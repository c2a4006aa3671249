import type { SystemNic } from '../types/network.js';

/**
 * Which NIC gets DHCP when there is no context (the Snooze rule was "dhcp on the first interface").
 * Only physical NICs (never lo, bridges, veth...: cloud-init#2648). A NIC with carrier beats one without,
 * one with unknown carrier beats one known to be down (at boot, before anything brings links up, carrier
 * is usually unreadable for all). Ties: eth0 first, then natural name order (ens3 < ens10).
 */

export type FallbackChoice = { nic: SystemNic; reason: string } | { nic: undefined; reason: string };

export function chooseFallbackNic(nics: readonly SystemNic[]): FallbackChoice {
  const physical = nics.filter((n) => n.physical);
  if (physical.length === 0) {
    const seen = nics.map((n) => n.name).join(', ') || 'none';
    return { nic: undefined, reason: `no physical network interface for DHCP fallback (interfaces seen: ${seen})` };
  }
  const ranked = [...physical].sort(
    (a, b) => carrierRank(a) - carrierRank(b) || eth0Rank(a) - eth0Rank(b) || naturalCompare(a.name, b.name),
  );
  const nic = ranked[0] as SystemNic;
  const link = nic.carrier === true ? 'has carrier' : nic.carrier === false ? 'no carrier on any NIC' : 'carrier unknown';
  const why = nic.name === 'eth0' ? 'eth0 preferred' : 'first by name';
  return { nic, reason: `DHCP fallback on ${nic.name} (${nic.mac}): ${link}, ${why}` };
}

function carrierRank(n: SystemNic): number {
  return n.carrier === true ? 0 : n.carrier === undefined ? 1 : 2;
}

function eth0Rank(n: SystemNic): number {
  return n.name === 'eth0' ? 0 : 1;
}

/** Compare names with digit runs as numbers: ens3 < ens10, eth2 < eth10. No ICU needed. */
export function naturalCompare(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i] as string;
    const y = tb[i] as string;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length; // "01" after "1"
    }
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}

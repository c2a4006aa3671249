/**
 * MAC addresses for new NICs: given, random inside a hypervisor's OUI, or encoding the guest's IPv4
 * address the Snooze way (last four bytes = the address; the agent's legacy rule reads it back).
 */
import { randomBytes } from 'node:crypto';
import { ipv4ToMac } from '../../lib/net/ip.js';
import type { Checked } from '../../lib/context/rules.js';

/** A NIC's MAC: the context's rule (a MAC contextgen writes is one the agent accepts). */
export { checkMac } from '../../lib/context/rules.js';

/** QEMU/KVM's conventional OUI (what virt-install uses). */
export const KVM_OUI = '52:54:00';
/** Xen's registered OUI. */
export const XEN_OUI = '00:16:3e';
/** Snooze's documented prefix for IPv4-encoding MACs. Note: 00:16 is a universally administered (vendor) prefix. */
export const LEGACY_IP_PREFIX = '00:16';
/** A locally administered alternative for IPv4-encoding MACs (bit 1 of the first octet set), as OpenNebula uses. */
export const LOCAL_IP_PREFIX = '02:00';

export function randomMac(oui: string): string {
  const tail = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'));
  return `${oui}:${tail.join(':')}`;
}

export function macForIpv4(ipv4: string, prefix2: string): string {
  return ipv4ToMac(ipv4, prefix2);
}

/** A two-octet prefix for IPv4-encoding MACs ("00:16", "02:00"); the keywords legacy/local name those two. */
export function checkIpMacPrefix(s: string): Checked<string> {
  const v = s.trim().toLowerCase();
  if (v === 'legacy' || v === 'snooze') return { ok: true, value: LEGACY_IP_PREFIX };
  if (v === 'local') return { ok: true, value: LOCAL_IP_PREFIX };
  if (!/^[0-9a-f]{2}[:-][0-9a-f]{2}$/.test(v)) return { ok: false, why: 'MAC prefix must be two hex octets, e.g. 02:00 (or legacy, local)' };
  const p = v.replace('-', ':');
  if (parseInt(p.slice(0, 2), 16) & 1) return { ok: false, why: 'MAC prefix has the multicast bit set' };
  return { ok: true, value: p };
}

/** Whether the MAC's "locally administered" bit is set (02:xx, 52:xx, ...). */
export function isLocallyAdministered(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 2) === 2;
}

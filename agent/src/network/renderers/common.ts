/**
 * Helpers shared by the renderers: ownership marker, value guards, address text.
 * Values reaching a renderer are validated already; the guards here are defence in depth so a
 * bug upstream can never inject a line into a config file.
 */
import { ContextError } from '../../../../lib/context/errors.js';
import { broadcastAddress } from '../../../../lib/net/ip.js';
import type { Cidr } from '../../../../lib/context/model.js';
import { warn, type Note, type PlannedCommand, type PlannedFile } from '../../types/plan.js';
import type { NetworkConfig, ResolvedNic, ResolvedRoute } from '../../types/network.js';
import { checkIfname, hasForbiddenOrTab } from '../../../../lib/context/rules.js';

/** First line of every file the agent writes: tells the admin, and isOwnedIfcfg, who wrote it. */
export const MARKER = '# Managed by contextualization';
export const HEADER = `${MARKER}: generated from the context CD; local changes are overwritten.`;

/** Guards every value written into one file; errors name the file and key. */
export class Writer {
  constructor(readonly file: string) {}

  /** `value` unchanged, or a thrown ContextError when it holds a newline or control character. */
  value(key: string, value: string | number): string {
    const s = String(value);
    // The catalog's forbidden set (controls, line separators, bidi) plus TAB: no config line needs one.
    if (hasForbiddenOrTab(s)) this.fail(key, s, 'contains a newline or control character');
    return s;
  }

  /** Like value(), and also refuses characters `forbidden` (e.g. quotes of the target format). */
  strict(key: string, value: string, forbidden: RegExp, why: string): string {
    this.value(key, value);
    if (forbidden.test(value)) this.fail(key, value, why);
    return value;
  }

  /** An interface name fit for file names and config lines. */
  ifname(name: string): string {
    this.value('interface', name);
    const c = checkIfname(name);
    if (!c.ok) this.fail('interface', name, `not a safe interface name: ${c.why}`);
    return name;
  }

  fail(key: string, value: string, why: string): never {
    throw new ContextError([{ file: this.file, key, value, why: `refused by the renderer: ${why}` }]);
  }
}

export const isV6 = (address: string): boolean => address.includes(':');
export const cidr = (c: Cidr): string => `${c.address}/${c.prefix}`;
export const isDefaultRoute = (r: ResolvedRoute): boolean => r.destination.prefix === 0;

/** Whether the broadcast the context gave differs from the one the kernel derives (only then worth writing). */
export function customBroadcast(nic: ResolvedNic): string | undefined {
  if (!nic.ipv4) return undefined;
  const { address, prefix } = nic.ipv4.address;
  let derived: string;
  try {
    derived = broadcastAddress(address, prefix);
  } catch {
    return undefined; // not an address: the Writer refuses it with a clear message when it is written
  }
  return nic.ipv4.broadcast !== derived ? nic.ipv4.broadcast : undefined;
}

export function routesOf(nic: ResolvedNic, family: 4 | 6): ResolvedRoute[] {
  return nic.routes.filter((r) => isV6(r.destination.address) === (family === 6));
}

export function nameserversOf(net: NetworkConfig, family: 4 | 6): string[] {
  return net.dns.nameservers.filter((a) => isV6(a) === (family === 6));
}

/** The NIC that carries per-link DNS; renderers with per-link DNS put it there only. */
export function dnsCarrier(net: NetworkConfig): ResolvedNic | undefined {
  return net.nics.find((n) => n.primary) ?? net.nics[0];
}

export function hasDns(net: NetworkConfig): boolean {
  return net.dns.nameservers.length > 0 || net.dns.search.length > 0;
}

export function routeText(r: ResolvedRoute): string {
  const dest = isDefaultRoute(r) ? 'default' : cidr(r.destination);
  return [dest, r.gateway ? `via ${r.gateway}` : '', r.metric !== undefined ? `metric ${r.metric}` : ''].filter(Boolean).join(' ');
}

/** Notes common to the file backends: deletions of routes they do not own cannot be expressed. */
export function deleteRouteNotes(backend: string, nic: ResolvedNic): Note[] {
  return nic.deleteRoutes.map(
    (r) => warn(`${backend}: cannot delete route ${routeText(r)} on ${nic.name}; it is simply not configured here`, nic.name),
  );
}

export function broadcastNotes(backend: string, nic: ResolvedNic): Note[] {
  const b = customBroadcast(nic);
  return b ? [warn(`${backend}: cannot set broadcast ${b} on ${nic.name}; the kernel derives it from the prefix`, nic.name)] : [];
}

export function file(path: string, content: string, mode: number, reason: string): PlannedFile {
  return { path, content, mode, reason };
}

export function live(argv: string[], reason: string, required = false, timeoutMs = 30_000): PlannedCommand {
  return { argv, reason, when: 'live', required, timeoutMs };
}

/**
 * A live reconfiguration through the system's network service: run only when `unit` is already active
 * (a manual run, `boot` from rc.local). At boot the local stage runs before the service starts, so the
 * command is skipped and the service applies the written files when it starts: nothing waits on a timeout.
 */
export function liveVia(unit: string, argv: string[], reason: string, timeoutMs = 30_000): PlannedCommand {
  return { ...live(argv, reason, false, timeoutMs), requiresActive: unit };
}

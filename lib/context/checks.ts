/**
 * Value checks shared by the parsers (with line numbers) and validateContext (models built in
 * memory by the host tools). Each returns the reason a value is wrong, or undefined when it is fine.
 */
import type { Cidr } from './model.js';
import { LIMITS } from './limits.js';
import { badCharIn } from './text.js';
import { isMulticastMac, networkAddress, ipv6NetworkAddress, parseIPv4, parseIPv6 } from '../net/ip.js';

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** RFC 1123 host name: short name or FQDN, labels 1-63 chars, total <= 253, no trailing dot. */
export function hostnameProblem(s: string): string | undefined {
  if (s.length === 0) return 'empty host name';
  if (s.length > 253) return `host name is ${s.length} characters; the limit is 253`;
  if (/[^\x21-\x7e]/.test(s)) return 'host names are ASCII letters, digits, hyphens and dots only (no spaces, no Unicode look-alikes)';
  if (s.endsWith('.')) return 'trailing dot is not allowed';
  const labels = s.split('.');
  for (const l of labels) {
    if (l.length === 0) return 'empty label (two dots in a row, or a leading dot)';
    if (l.length > 63) return `label "${l.slice(0, 20)}..." is ${l.length} characters; the limit is 63`;
    if (!LABEL.test(l)) {
      return l.startsWith('-') || l.endsWith('-')
        ? `label "${l}" starts or ends with a hyphen`
        : `label "${l}" has a character other than letters, digits and hyphens`;
    }
  }
  // RFC 1123 2.1: a host name must not look like a dotted-decimal address.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return 'the last label is all digits (looks like an address)';
  return undefined;
}

/** DNS domain (DOMAIN, SEARCH entries): same syntax as a host name. */
export function domainProblem(s: string): string | undefined {
  const why = hostnameProblem(s);
  return why?.replaceAll('host name', 'domain name');
}

// First character alphanumeric: the id names files and dirs (instances/<id>/), so "." and ".." must not pass, nor "-o".
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export function instanceIdProblem(s: string): string | undefined {
  return INSTANCE_ID.test(s) ? undefined : 'instance id must be 1-128 characters of A-Z a-z 0-9 . _ : -';
}

/** Kernel interface name as a context may name it (eth0, ens3, eth0.100). No ':' aliases, no '/'. */
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
export function ifnameProblem(s: string): string | undefined {
  return IFNAME.test(s) ? undefined : 'interface name must be 1-15 characters of A-Z a-z 0-9 _ . - (not starting with . _ -)';
}

/** Canonical lower-case colon MAC, for a model. */
const MAC_CANON = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export function macProblem(mac: string): string | undefined {
  if (!MAC_CANON.test(mac)) return 'not a MAC address in canonical form (six lower-case hex pairs separated by colons)';
  if (isMulticastMac(mac)) return 'multicast MAC (first octet is odd): never the address of a NIC';
  return undefined;
}

export function intInRange(s: string, min: number, max: number): number | string {
  if (!/^[0-9]{1,10}$/.test(s)) return `must be a whole number from ${min} to ${max}`;
  const n = Number(s);
  if (n < min || n > max) return `must be from ${min} to ${max}`;
  return n;
}

export function numberProblem(n: number, min: number, max: number): string | undefined {
  return Number.isInteger(n) && n >= min && n <= max ? undefined : `must be a whole number from ${min} to ${max}`;
}

export function mtuProblem(n: number): string | undefined {
  return numberProblem(n, LIMITS.mtu.min, LIMITS.mtu.max);
}
export function metricProblem(n: number): string | undefined {
  return numberProblem(n, LIMITS.metric.min, LIMITS.metric.max);
}

export type Family = 4 | 6;

// A canonical dotted quad (no leading zeros), recognised without a full parse: the common case,
// and parsing addresses is most of the time a context takes to parse.
const CANONICAL_V4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

export function familyOf(address: string): Family | undefined {
  if (CANONICAL_V4.test(address) || parseIPv4(address) !== undefined) return 4;
  if (parseIPv6(address) !== undefined) return 6;
  return undefined;
}

/** Canonical form of an IPv4 or IPv6 address, or undefined. */
export function canonicalIp(s: string): string | undefined {
  if (CANONICAL_V4.test(s)) return s;
  return parseIPv4(s) ?? parseIPv6(s);
}

/** Why an address in a model is not canonical (or not an address of the expected family). */
export function ipProblem(s: string, family?: Family): string | undefined {
  const f = familyOf(s);
  if (f === undefined) return family === 4 ? 'not an IPv4 address' : family === 6 ? 'not an IPv6 address' : 'not an IPv4 or IPv6 address';
  if (family && f !== family) return `an IPv${f} address where IPv${family} is expected`;
  const c = canonicalIp(s)!;
  return c === s ? undefined : `not in canonical form (write ${c})`;
}

/**
 * "a.b.c.d/p" or "x::y/p" -> Cidr. `network`: the address must be the network address (routes);
 * otherwise it is a host address inside the subnet (NIC addresses).
 */
export function parseCidrText(s: string, family: Family | undefined, network: boolean): Cidr | string {
  const slash = s.indexOf('/');
  if (slash < 0) return 'needs a prefix length (e.g. 192.168.122.17/24 or 2001:db8::17/64)';
  const addrText = s.slice(0, slash);
  const f = familyOf(addrText);
  if (f === undefined) return `${JSON.stringify(addrText)} is not an IPv4 or IPv6 address`;
  if (family && f !== family) return `an IPv${f} address where IPv${family} is expected`;
  const max = f === 4 ? 32 : 128;
  const p = intInRange(s.slice(slash + 1), 0, max);
  if (typeof p === 'string') return `prefix length ${p}`;
  const cidr: Cidr = { address: canonicalIp(addrText)!, prefix: p };
  return cidrProblem(cidr, network) ?? cidr;
}

/** Checks on a Cidr of a model (canonical address, prefix range, network/host rules). */
export function cidrProblem(c: Cidr, network: boolean): string | undefined {
  const ip = ipProblem(c.address);
  if (ip) return ip;
  const f = familyOf(c.address)!;
  const max = f === 4 ? 32 : 128;
  if (!Number.isInteger(c.prefix) || c.prefix < 0 || c.prefix > max) return `prefix length must be from 0 to ${max}`;
  const net = f === 4 ? networkAddress(c.address, c.prefix) : ipv6NetworkAddress(c.address, c.prefix);
  if (network) {
    if (net !== c.address) return `host bits set: the network of ${c.address}/${c.prefix} is ${net}/${c.prefix}`;
  } else if (c.prefix === 0) {
    return 'a host address needs a prefix length above 0';
  }
  return undefined;
}

export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

/** A single-line text value (comment, script name...): no control characters. */
export function lineProblem(s: string): string | undefined {
  const bad = badCharIn(s);
  return bad ? `contains ${bad}` : undefined;
}

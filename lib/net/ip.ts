/**
 * Address math shared by the agent and the host tools, on top of ipaddr.js.
 * Everything here is strict: dotted-quad IPv4 only (no "10.1", no octal "010"), canonical output.
 */
import ipaddr from 'ipaddr.js';

/** Canonical dotted-quad, or undefined when `s` is not exactly four decimal octets. */
export function parseIPv4(s: string): string | undefined {
  if (!ipaddr.IPv4.isValidFourPartDecimal(s)) return undefined;
  // ipaddr accepts "010" as decimal 10 here; a leading zero is ambiguous (octal to inet_aton), so refuse it.
  if (s.split('.').some((o) => o.length > 1 && o.startsWith('0'))) return undefined;
  return ipaddr.IPv4.parse(s).toString();
}

export function isIPv4(s: string): boolean {
  return parseIPv4(s) !== undefined;
}

/** Canonical (RFC 5952, compressed, lower-case) IPv6, or undefined. Zone ids are refused. */
export function parseIPv6(s: string): string | undefined {
  if (s.includes('%') || !ipaddr.IPv6.isValid(s)) return undefined;
  return ipaddr.IPv6.parse(s).toRFC5952String();
}

export function isIPv6(s: string): boolean {
  return parseIPv6(s) !== undefined;
}

/** Prefix length of a contiguous IPv4 netmask ("255.255.255.0" -> 24), or undefined. */
export function prefixFromNetmask(mask: string): number | undefined {
  const m = parseIPv4(mask);
  if (!m) return undefined;
  const p = ipaddr.IPv4.parse(m).prefixLengthFromSubnetMask();
  return p === null ? undefined : p;
}

export function netmaskFromPrefix(prefix: number): string {
  return ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toString();
}

export function networkAddress(address: string, prefix: number): string {
  return ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`).toString();
}

export function broadcastAddress(address: string, prefix: number): string {
  return ipaddr.IPv4.broadcastAddressFromCIDR(`${address}/${prefix}`).toString();
}

export function ipv6NetworkAddress(address: string, prefix: number): string {
  return ipaddr.IPv6.networkAddressFromCIDR(`${address}/${prefix}`).toRFC5952String();
}

/** Whether IPv4 `address` lies in `network`/`prefix`. */
export function inSubnet(address: string, network: string, prefix: number): boolean {
  return ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parse(network), prefix);
}

export function inSubnet6(address: string, network: string, prefix: number): boolean {
  return ipaddr.IPv6.parse(address).match(ipaddr.IPv6.parse(network), prefix);
}

/**
 * Whether `address` may be given to a host in `address/prefix`: not the network or broadcast address
 * (both are fine in /31 point-to-point and /32 host routes, RFC 3021).
 */
export function isUsableHostAddress(address: string, prefix: number): boolean {
  if (prefix >= 31) return true;
  return address !== networkAddress(address, prefix) && address !== broadcastAddress(address, prefix);
}

/** IPv4 as a 32-bit unsigned number (for pools and ranges). */
export function ipv4ToNumber(address: string): number {
  return ipaddr.IPv4.parse(address).octets.reduce((n, o) => n * 256 + o, 0);
}

export function numberToIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Lower-case colon MAC, or undefined. Accepts upper case and '-' separators (as libvirt and Windows print them). */
export function normalizeMac(s: string): string | undefined {
  const m = s.trim().toLowerCase().replaceAll('-', ':');
  return MAC_RE.test(m) ? m : undefined;
}

/** The legacy Snooze rule: the last four MAC bytes are the guest's IPv4 (00:16:c0:a8:7a:11 -> 192.168.122.17). */
export function macToIPv4(mac: string): string {
  const bytes = mac.split(':').slice(2);
  return bytes.map((b) => String(parseInt(b, 16))).join('.');
}

/** The inverse: a MAC whose last four bytes encode `ipv4`, after a two-byte prefix ("00:16" in Snooze's examples). */
export function ipv4ToMac(ipv4: string, prefix2 = '00:16'): string {
  const tail = ipaddr.IPv4.parse(ipv4).octets.map((o) => o.toString(16).padStart(2, '0'));
  return `${prefix2}:${tail.join(':')}`;
}

/** A MAC's first octet has the multicast bit set: never valid for a NIC. */
export function isMulticastMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

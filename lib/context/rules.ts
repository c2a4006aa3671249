/**
 * The validation catalog: every rule a value of a context must meet, defined once. The parsers (which
 * add file and line), validateContext (models built in memory), contextgen's flags and inventories,
 * and the agent's own inputs (--nic, instance ids) all call these, so a value is refused on the host
 * exactly when the agent would refuse it at boot. docs/context-format.md states each rule.
 *
 * One convention for "a value or the reason it is wrong": Checked<T>. The value is the normalised
 * form (lower-case MAC, canonical address); the reason is a phrase that a caller prefixes with the
 * file, key and value it came from.
 */
import type { Cidr, NicConfig, NicMatch, PostInstallMode } from './model.js';
import { LIMITS, limitWhy } from './limits.js';
import { ipv6NetworkAddress, isMulticastMac, networkAddress, normalizeMac, parseIPv4, parseIPv6 } from '../net/ip.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; why: string };
export const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
export const bad = <T = never>(why: string): Checked<T> => ({ ok: false, why });
/** The reason, or undefined when the value is fine (for checks whose value the caller already has). */
export const whyNot = (c: Checked<unknown>): string | undefined => (c.ok ? undefined : c.why);

// ---------------------------------------------------------------------------------------------
// Characters

/**
 * Characters no value and no line of a context file may hold: C0 controls except TAB, DEL, C1
 * controls, U+2028/U+2029 (line breaks to some parsers: a value could smuggle a second line), and
 * the bidirectional controls (U+061C, U+200E/F, U+202A-E, U+2066-9) that make text display
 * otherwise than it reads (Trojan Source, CVE-2021-42574). TAB is whitespace in every format written.
 */
const BIDI_CLASS = '\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';
const FORBIDDEN_CLASS = `\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u2028\\u2029${BIDI_CLASS}`;
const BIDI_CHAR = new RegExp(`[${BIDI_CLASS}]`);
export const FORBIDDEN_CHAR = new RegExp(`[${FORBIDDEN_CLASS}]`);
/** What a message shows escaped: the forbidden set, plus zero-width characters and the BOM (invisible, though allowed). */
export const INVISIBLE_CHARS = new RegExp(`[${FORBIDDEN_CLASS}\\u200b-\\u200d\\ufeff]`, 'g');

export function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code === 0) return 'a NUL byte';
  if (code === 0x0d) return 'a carriage return (only CRLF line ends are tolerated)';
  if (BIDI_CHAR.test(c)) return `bidirectional control ${hex} (text would display otherwise than it reads)`;
  return `control character ${hex}`;
}

/** A single-line text value (a comment, a VM description, a line of a context file). */
export function checkLine(s: string): Checked<string> {
  const m = FORBIDDEN_CHAR.exec(s);
  return m ? bad(`contains ${describeChar(m[0])}`) : ok(s);
}

/** Whether a path (or one name in it) has a forbidden character or a TAB (never wanted in a name, and some formats cannot hold it). */
export function hasForbiddenOrTab(s: string): boolean {
  return s.includes('\t') || FORBIDDEN_CHAR.test(s);
}

/** A file path that will be written into a config. */
export function checkPathText(s: string): Checked<string> {
  if (s.length === 0) return bad('path is empty');
  return hasForbiddenOrTab(s) ? bad('path contains a control character or newline') : ok(s);
}

/** A path inside a context (ContextFiles key, an ISO or directory entry). */
export function checkContextPath(path: string): Checked<string> {
  if (path === '' || path.startsWith('/')) return bad('not a relative path');
  if (Buffer.byteLength(path) > LIMITS.pathBytes) return bad(`path longer than ${LIMITS.pathBytes} bytes`);
  if (path.includes('\\') || hasForbiddenOrTab(path)) return bad('path contains a control character or a backslash');
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return bad('path has an empty, "." or ".." component');
  if (parts.length - 1 > LIMITS.depth) return bad(limitWhy.depth());
  return ok(path);
}

/** An entry of a context tree (a CD or a directory) that is not a plain file or directory. */
export type NonRegular =
  | { kind: 'symlink'; target: string }
  | { kind: 'hardlink'; links: number }
  | { kind: 'device' | 'fifo' | 'socket' };

/**
 * A context holds regular files and directories only, whichever way it is read: a link read one
 * way and dropped or followed another would give two contexts from one CD.
 */
export function notRegularWhy(e: NonRegular): string {
  const what = e.kind === 'symlink' ? `a symbolic link (-> ${e.target})`
    : e.kind === 'hardlink' ? `a hard link (one file with ${e.links} names)`
    : e.kind === 'device' ? 'a device node' : e.kind === 'fifo' ? 'a FIFO' : 'a socket';
  return `${what}; a context holds regular files only`;
}

// ---------------------------------------------------------------------------------------------
// Names

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** One RFC 1123 host label (letters, digits, inner hyphens, 1-63). */
export function checkHostLabel(s: string): Checked<string> {
  return LABEL.test(s) ? ok(s) : bad('must be an RFC 1123 host label (letters, digits, inner hyphens, at most 63)');
}

/** RFC 1123 host name: short name or FQDN, labels 1-63 chars, total <= 253, no trailing dot. */
export function checkHostname(s: string, what = 'host name'): Checked<string> {
  if (s.length === 0) return bad(`empty ${what}`);
  if (s.length > 253) return bad(`${what} is ${s.length} characters; the limit is 253`);
  if (/[^\x21-\x7e]/.test(s)) return bad(`${what}s are ASCII letters, digits, hyphens and dots only (no spaces, no Unicode look-alikes)`);
  if (s.endsWith('.')) return bad('trailing dot is not allowed');
  const labels = s.split('.');
  for (const l of labels) {
    if (l.length === 0) return bad('empty label (two dots in a row, or a leading dot)');
    if (l.length > 63) return bad(`label "${l.slice(0, 20)}..." is ${l.length} characters; the limit is 63`);
    if (!LABEL.test(l)) {
      return bad(l.startsWith('-') || l.endsWith('-')
        ? `label "${l}" starts or ends with a hyphen`
        : `label "${l}" has a character other than letters, digits and hyphens`);
    }
  }
  // RFC 1123 2.1: a host name must not look like a dotted-decimal address.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return bad('the last label is all digits (looks like an address)');
  return ok(s);
}

/** DNS domain (DOMAIN, SEARCH entries): the host name syntax. */
export function checkDomain(s: string): Checked<string> {
  return checkHostname(s, 'domain name');
}

// First character alphanumeric: the id names files and dirs (instances/<id>/), so "." and ".." must not pass, nor "-o".
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export function checkInstanceId(s: string): Checked<string> {
  return INSTANCE_ID.test(s) ? ok(s) : bad('instance id must be 1-128 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit');
}

/**
 * Kernel interface name as a context (or a bridge flag) may name it: eth0, ens3, eth0.100, br0.
 * IFNAMSIZ is 16 with the NUL; no ':' aliases, no '/', nothing a config line would need quoted.
 */
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
export function checkIfname(s: string, what = 'interface name'): Checked<string> {
  return IFNAME.test(s) ? ok(s) : bad(`${what} must be 1-15 characters of A-Z a-z 0-9 _ . - (not starting with . _ -)`);
}

// ---------------------------------------------------------------------------------------------
// MAC addresses

const MAC_CANON = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const MAC_TEXT = /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/;

/** Whether `s` is written like a MAC (any case, ':' or '-'): tells a MAC label from an interface name. */
export function looksLikeMac(s: string): boolean {
  return MAC_TEXT.test(s);
}

/** A NIC's MAC as a user writes it (any case, ':' or '-') -> lower-case colon form; never all-zero, broadcast or multicast. */
export function checkMac(s: string): Checked<string> {
  const m = normalizeMac(s);
  if (!m) return bad('not a MAC address (six hex pairs separated by ":" or "-")');
  return nicMac(m);
}

/** A MAC in a model: already canonical, then the same rule. */
export function checkCanonicalMac(mac: string): Checked<string> {
  if (!MAC_CANON.test(mac)) return bad('not a MAC address in canonical form (six lower-case hex pairs separated by colons)');
  return nicMac(mac);
}

function nicMac(m: string): Checked<string> {
  if (m === '00:00:00:00:00:00') return bad('the all-zero MAC is never the address of a NIC');
  if (m === 'ff:ff:ff:ff:ff:ff') return bad('the broadcast MAC is never the address of a NIC');
  if (isMulticastMac(m)) return bad('multicast MAC (first octet is odd): never the address of a NIC');
  return ok(m);
}

/** The label of a [nic "..."] section or a --nic flag: a MAC (normalised) or an interface name. */
export function checkNicLabel(label: string): Checked<NicMatch> {
  if (looksLikeMac(label)) {
    const m = checkMac(label);
    return m.ok ? ok({ kind: 'mac', mac: m.value }) : m;
  }
  const n = checkIfname(label);
  return n.ok ? ok({ kind: 'name', name: label }) : bad(`not a MAC address nor an interface name: ${n.why}`);
}

// ---------------------------------------------------------------------------------------------
// Enumerations

export const POST_INSTALL_MODES: readonly PostInstallMode[] = ['per-instance', 'per-boot', 'disabled'];
export const NIC_METHODS: readonly NicConfig['method'][] = ['static', 'dhcp', 'manual'];

function oneOf<T extends string>(list: readonly T[], s: string): Checked<T> {
  return (list as readonly string[]).includes(s) ? ok(s as T) : bad(`must be one of ${list.join(', ')}`);
}
export const checkPostInstallMode = (s: string): Checked<PostInstallMode> => oneOf(POST_INSTALL_MODES, s);
export const checkNicMethod = (s: string): Checked<NicConfig['method']> => oneOf(NIC_METHODS, s);

// ---------------------------------------------------------------------------------------------
// Numbers (ranges are in LIMITS: mtu, metric, postInstallTimeoutSec, legacyPrefix)

const whole = (min: number, max: number, unit: string) => `must be a whole number${unit ? ` of ${unit}` : ''} from ${min} to ${max}`;

/** A decimal whole number as text (digits only: no sign, blank, exponent or fraction) from `min` to `max`. */
export function checkInt(s: string, min: number, max: number, unit = ''): Checked<number> {
  const n = /^[0-9]{1,16}$/.test(s) ? Number(s) : NaN;
  return Number.isSafeInteger(n) ? checkNumber(n, min, max, unit) : bad(whole(min, max, unit));
}

/** A number in a model from `min` to `max`. */
export function checkNumber(n: number, min: number, max: number, unit = ''): Checked<number> {
  if (!Number.isInteger(n)) return bad(whole(min, max, unit));
  if (n < min || n > max) return bad(`must be from ${min} to ${max}${unit ? ` ${unit}` : ''}`);
  return ok(n);
}

// ---------------------------------------------------------------------------------------------
// Addresses

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

/** An address in a model: canonical, and of the expected family when one is given. */
export function checkIp(s: string, family?: Family): Checked<string> {
  const f = familyOf(s);
  if (f === undefined) return bad(family === 4 ? 'not an IPv4 address' : family === 6 ? 'not an IPv6 address' : 'not an IPv4 or IPv6 address');
  if (family && f !== family) return bad(`an IPv${f} address where IPv${family} is expected`);
  const c = canonicalIp(s)!;
  return c === s ? ok(s) : bad(`not in canonical form (write ${c})`);
}

/**
 * "a.b.c.d/p" or "x::y/p" -> Cidr. `network`: the address must be the network address (routes);
 * otherwise it is a host address inside the subnet (NIC addresses).
 */
export function checkCidrText(s: string, family: Family | undefined, network: boolean): Checked<Cidr> {
  const slash = s.indexOf('/');
  if (slash < 0) return bad('needs a prefix length (e.g. 192.168.122.17/24 or 2001:db8::17/64)');
  const addrText = s.slice(0, slash);
  const f = familyOf(addrText);
  if (f === undefined) return bad(`${JSON.stringify(addrText)} is not an IPv4 or IPv6 address`);
  if (family && f !== family) return bad(`an IPv${f} address where IPv${family} is expected`);
  const max = f === 4 ? 32 : 128;
  const p = checkInt(s.slice(slash + 1), 0, max);
  if (!p.ok) return bad(`prefix length ${p.why}`);
  return checkCidr({ address: canonicalIp(addrText)!, prefix: p.value }, network);
}

/** A Cidr of a model: canonical address, prefix range, network/host rules. */
export function checkCidr(c: Cidr, network: boolean): Checked<Cidr> {
  const ip = checkIp(c.address);
  if (!ip.ok) return ip;
  const f = familyOf(c.address)!;
  const max = f === 4 ? 32 : 128;
  if (!Number.isInteger(c.prefix) || c.prefix < 0 || c.prefix > max) return bad(`prefix length must be from 0 to ${max}`);
  const net = f === 4 ? networkAddress(c.address, c.prefix) : ipv6NetworkAddress(c.address, c.prefix);
  if (network) {
    if (net !== c.address) return bad(`host bits set: the network of ${c.address}/${c.prefix} is ${net}/${c.prefix}`);
  } else if (c.prefix === 0) {
    return bad('a host address needs a prefix length above 0');
  }
  return ok(c);
}

export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

// ---------------------------------------------------------------------------------------------
// post-install

export function checkPostInstallScript(script: string): Checked<string> {
  const bytes = Buffer.byteLength(script);
  if (bytes > LIMITS.postInstallBytes) return bad(`script is ${bytes} bytes; the limit is ${LIMITS.postInstallBytes}`);
  if (script.includes('\0')) return bad('script contains a NUL byte');
  if (script.includes('\r\n')) return bad('script has CRLF (Windows) line ends; bash would fail on them (convert with dos2unix)');
  return ok(script);
}

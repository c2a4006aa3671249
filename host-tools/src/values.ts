/**
 * Validators for operator-supplied values that only the host tools have (VM names, UUIDs, bridges,
 * paths in configs, volume labels, times). Rules a context shares (MAC, host label, numbers, the
 * character set) come from the catalog in lib/context/rules.ts and are re-exported here, so each
 * rule exists once. Each returns Checked<T>; callers turn reasons into Problems naming their own
 * file/key, so one run reports every bad value.
 */
import { randomUUID } from 'node:crypto';
import { bad, checkIfname, checkPathText, hasForbiddenOrTab, ok, type Checked } from '../../lib/context/rules.js';

export { checkHostLabel, checkInt, checkLine, checkMac, type Checked } from '../../lib/context/rules.js';

/**
 * A domain (VM) name: also a directory name under OUTDIR and, in batches, the guest host name,
 * so it is kept to letters, digits, '-', '_' and '.', starting with a letter or digit, at most 64.
 */
export function checkVmName(s: string): Checked<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s)) {
    return bad('domain name must be 1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit');
  }
  return ok(s);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function checkUuid(s: string): Checked<string> {
  const u = s.trim().toLowerCase();
  if (!UUID_RE.test(u)) return bad('UUID must be 8-4-4-4-12 hex digits');
  if (/^[0-]+$/.test(u)) return bad('the nil UUID is not a valid domain UUID');
  return ok(u);
}

export function newUuid(): string {
  return randomUUID();
}

/** A Linux bridge: an interface, so the interface-name rule (IFNAMSIZ, safe in every format we write). */
export function checkBridge(s: string): Checked<string> {
  return checkIfname(s, 'bridge name');
}

export function checkNetworkName(s: string): Checked<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s)) return bad('network name must be 1-64 of A-Z a-z 0-9 _ . -');
  return ok(s);
}

/**
 * A file path that will be written into a libvirt XML or xl config. XML escaping makes quotes safe
 * there, but xl's string syntax has no reliable escape, so quotes and backslashes are refused for both:
 * one rule for every output format.
 */
export function checkConfigPath(s: string): Checked<string> {
  const text = checkPathText(s);
  if (!text.ok) return text;
  return hasConfigQuote(s) ? bad('path contains a quote or backslash') : ok(s);
}

/** xl has no dependable escape in its strings, so a quote or backslash is refused in any value of a config. */
export const hasConfigQuote = (s: string): boolean => /["'\\]/.test(s);

/** Any value an xl config holds: no control character, TAB, quote or backslash. */
export function isConfigText(s: string): boolean {
  return !hasForbiddenOrTab(s) && !hasConfigQuote(s);
}

/** ISO 9660 volume id: up to 32 characters; d-characters plus lower case (cidata) and '-', '.'. */
export function checkVolumeLabel(s: string): Checked<string> {
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(s)) return bad('volume label must be 1-32 of A-Z a-z 0-9 _ . -');
  return ok(s);
}

/**
 * A time for reproducible output: seconds since the epoch (SOURCE_DATE_EPOCH style) or an ISO 8601
 * date-time. Returns a Date.
 */
export function checkMtime(s: string): Checked<Date> {
  const t = s.trim();
  let ms: number;
  if (/^[0-9]+$/.test(t)) ms = Number(t) * 1000;
  else if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) ms = Date.parse(t);
  else return bad('must be seconds since 1970-01-01 or an ISO 8601 date');
  if (!Number.isFinite(ms) || ms < 0 || ms > Date.UTC(9999, 0)) return bad('time out of range');
  return ok(new Date(ms));
}

/**
 * Validators for operator-supplied values. Each returns the normalised value or a reason string;
 * callers turn reasons into Problems naming their own file/key, so one run reports every bad value.
 */
import { randomUUID } from 'node:crypto';

export type Checked<T> = { ok: true; value: T } | { ok: false; why: string };
const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(why: string): Checked<T> => ({ ok: false, why });

/** Control characters (incl. newline, DEL) can inject lines into any config format we emit. */
const CONTROL = /[\u0000-\u001f\u007f]/;

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

/** An RFC 1123 host label, the stricter rule used when a batch name doubles as host name. */
export function checkHostLabel(s: string): Checked<string> {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(s)) {
    return bad('must be an RFC 1123 host label (letters, digits, inner hyphens, at most 63)');
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

export function checkInt(s: string, min: number, max: number, unit = ''): Checked<number> {
  if (!/^[0-9]+$/.test(s.trim())) return bad(`must be a whole number${unit ? ` of ${unit}` : ''}`);
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) return bad(`must be between ${min} and ${max}${unit ? ` ${unit}` : ''}`);
  return ok(n);
}

/** A Linux bridge or libvirt network name: what fits IFNAMSIZ and is safe in every format we write. */
export function checkBridge(s: string): Checked<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(s)) return bad('bridge name must be 1-15 of A-Z a-z 0-9 _ . -');
  return ok(s);
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
  if (s.length === 0) return bad('path is empty');
  if (CONTROL.test(s)) return bad('path contains a control character or newline');
  if (/["'\\]/.test(s)) return bad('path contains a quote or backslash');
  return ok(s);
}

/** Any free-text value headed for a config file: one line, printable. */
export function checkLine(s: string): Checked<string> {
  if (CONTROL.test(s)) return bad('contains a control character or newline');
  return ok(s);
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

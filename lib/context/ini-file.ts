/**
 * common/context.ini: what the Snooze layout cannot say (instance id, host name, per-NIC addresses,
 * IPv6, MTU, post-install mode). See docs/context-format.md for every key.
 *
 * Read with the one strict INI reader (lib/ini, shared with contextgen's inventories): it gives the
 * structure with line numbers; this file gives context.ini's sections, keys and wording.
 */
import { FirstSeen, iniItems, type IniDialect } from '../ini/index.js';
import type { Problems } from './errors.js';
import type { Cidr, IdentityKey, NicConfig, NicMatch, PostInstallMode } from './model.js';
import { CONTEXT_PATHS, IDENTITY_KEYS } from './model.js';
import { LIMITS } from './limits.js';
import { readLines } from './text.js';
import {
  canonicalIp, checkCidrText, checkDomain, checkHostname, checkInstanceId, checkInt, checkNicLabel, checkNicMethod, checkPostInstallMode,
  familyOf, whyNot,
} from './rules.js';

const FILE = CONTEXT_PATHS.extension;

const SECTION_KEYS = {
  context: ['version', 'instance_id', 'hostname', 'post_install', 'post_install_timeout'],
  nic: ['method', 'address', 'gateway', 'broadcast', 'ipv6', 'ipv6_gateway', 'mtu'],
  dns: ['nameservers', 'search', 'domain'],
  identity: IDENTITY_KEYS,
} as const;
type SectionKind = keyof typeof SECTION_KEYS;

interface RawSection {
  kind: SectionKind;
  /** `nic "X"` label as written (for messages). */
  label: string;
  line: number;
  match?: NicMatch;
  values: Map<string, { value: string; line: number }>;
}

export interface IniNic {
  nic: NicConfig;
  label: string;
  line: number;
  keyLines: Map<string, number>;
}

export interface IniFile {
  version?: number;
  instanceId?: string;
  hostname?: string;
  postInstallMode?: PostInstallMode;
  postInstallTimeoutSec?: number;
  nics: IniNic[];
  dns: { nameservers?: string[]; search?: string[]; domain?: string };
  /** `[identity]` items set to `no`. */
  identity?: Partial<Record<IdentityKey, false>>;
  /** "section.key" -> line, for problems found later. */
  keyLines: Map<string, number>;
}

const NIC_SECTION = /^nic[ \t]+"([^"]*)"$/;
// Raw value characters that would change meaning for some INI reader (inline comments, escapes)
// or for a shell: never needed by any value of this file.
const RAW_FORBIDDEN = /[;#\\$`]/;

export function matchLabel(m: NicMatch): string {
  return m.kind === 'mac' ? m.mac : m.name;
}

/** context.ini's dialect: no inline comments (a ';' or '#' stays in the value and is refused), "…" or '…' quotes. */
const CONTEXT_INI: IniDialect = { inlineComments: false, quotes: `"'`, sectionName: /^.*$/s };
const KEY_TEXT = /^[A-Za-z0-9_]+[ \t]*$/;

function scan(buf: Buffer, problems: Problems): RawSection[] {
  const sections: RawSection[] = [];
  let current: RawSection | undefined;
  let skipping = false; // inside a section already reported as bad: its keys are not reported again
  const seen = new FirstSeen();
  for (const item of iniItems(readLines(FILE, buf, LIMITS.textFileBytes, problems), CONTEXT_INI)) {
    const { n, raw: text } = item;
    const where = `line ${n}`;
    if (item.kind === 'section') {
      const name = item.name.trim();
      current = undefined;
      skipping = true;
      let kind: SectionKind | undefined;
      let match: NicMatch | undefined;
      let id: string;
      if (name === 'context' || name === 'dns' || name === 'identity') {
        kind = name;
        id = name;
      } else {
        const nic = NIC_SECTION.exec(name);
        if (!nic) {
          problems.add(FILE, where, text,
            /^nic\b/.test(name) ? 'NIC sections are written [nic "52:54:00:12:34:56"] or [nic "eth1"] (quoted)'
              : 'unknown section (known: [context], [nic "MAC or name"], [dns], [identity])');
          continue;
        }
        const m = checkNicLabel(nic[1]!);
        if (!m.ok) {
          problems.add(FILE, where, nic[1]!, m.why);
          continue;
        }
        kind = 'nic';
        match = m.value;
        id = `nic ${m.value.kind}:${matchLabel(m.value)}`;
      }
      const first = seen.repeatOf(id, n);
      if (first !== undefined) {
        problems.add(FILE, where, text, `duplicate section (first on line ${first})`);
        continue;
      }
      if (kind === 'nic' && sections.filter((x) => x.kind === 'nic').length >= LIMITS.nics) {
        problems.add(FILE, where, text, `more than ${LIMITS.nics} NIC sections`);
        continue;
      }
      current = { kind, label: kind === 'nic' ? `nic "${matchLabel(match!)}"` : kind, line: n, values: new Map() };
      if (match) current.match = match;
      sections.push(current);
      skipping = false;
      continue;
    }
    if (item.kind === 'other' || !KEY_TEXT.test(item.keyText)) {
      problems.add(FILE, where, text, 'not a [section], key = value, # comment or blank line');
      continue;
    }
    const { key, rawValue } = item;
    if (!current) {
      if (!skipping) problems.add(FILE, `${where}: ${key}`, rawValue, 'key outside a section (start with [context])');
      continue;
    }
    const at = `${where}: ${current.label}.${key}`;
    if (!(SECTION_KEYS[current.kind] as readonly string[]).includes(key)) {
      problems.add(FILE, at, rawValue, `unknown key in [${current.kind === 'nic' ? 'nic' : current.kind}] (known: ${SECTION_KEYS[current.kind].join(', ')})`);
      continue;
    }
    const dup = current.values.get(key);
    if (dup) {
      problems.add(FILE, at, rawValue, `duplicate key (first on line ${dup.line})`);
      continue;
    }
    const bad = RAW_FORBIDDEN.exec(rawValue);
    if (bad) {
      problems.add(FILE, at, rawValue, bad[0] === ';' || bad[0] === '#'
        ? `"${bad[0]}" is not allowed in a value (no inline comments: put comments on their own line)`
        : `"${bad[0]}" is not allowed in a value (values are never expanded or unescaped)`);
      continue;
    }
    if (item.value === undefined) {
      problems.add(FILE, at, rawValue, 'unbalanced or embedded quotes');
      continue;
    }
    current.values.set(key, { value: item.value, line: n });
  }
  return sections;
}

export function parseIniFile(buf: Buffer, problems: Problems): IniFile {
  const out: IniFile = { nics: [], dns: {}, keyLines: new Map() };
  for (const sec of scan(buf, problems)) {
    for (const [k, v] of sec.values) out.keyLines.set(`${sec.label}.${k}`, v.line);
    const get = (k: string) => sec.values.get(k);
    // A missing key's problem points at the section header.
    const bad = (k: string, why: string) => {
      const v = get(k);
      problems.add(FILE, v ? `line ${v.line}: ${sec.label}.${k}` : `line ${sec.line}: [${sec.label}]`, v?.value, why);
    };
    /** A value, or undefined when absent or empty (empty = not set, as in common/network). */
    const str = (k: string) => {
      const v = get(k)?.value;
      return v === undefined || v === '' ? undefined : v;
    };
    if (sec.kind === 'context') {
      const version = str('version');
      if (version !== undefined) {
        if (version === '1') out.version = 1;
        else bad('version', /^[0-9]+$/.test(version) ? `format version ${version} is not supported (this agent reads version 1)` : 'must be 1');
      }
      const id = str('instance_id');
      if (id !== undefined) {
        const c = checkInstanceId(id);
        if (!c.ok) bad('instance_id', c.why);
        else out.instanceId = c.value;
      }
      const host = str('hostname');
      if (host !== undefined) {
        const c = checkHostname(host);
        if (!c.ok) bad('hostname', c.why);
        else out.hostname = c.value;
      }
      const mode = str('post_install');
      if (mode !== undefined) {
        const c = checkPostInstallMode(mode);
        if (c.ok) out.postInstallMode = c.value;
        else bad('post_install', c.why);
      }
      const timeout = str('post_install_timeout');
      if (timeout !== undefined) {
        const t = checkInt(timeout, LIMITS.postInstallTimeoutSec.min, LIMITS.postInstallTimeoutSec.max);
        if (!t.ok) bad('post_install_timeout', `seconds ${t.why}`);
        else out.postInstallTimeoutSec = t.value;
      }
    } else if (sec.kind === 'identity') {
      for (const k of IDENTITY_KEYS) {
        const v = str(k);
        if (v === undefined || v === 'yes') continue;
        if (v === 'no') (out.identity ??= {})[k] = false;
        else bad(k, 'must be yes or no');
      }
    } else if (sec.kind === 'dns') {
      const ns = str('nameservers');
      if (ns !== undefined) {
        const list: string[] = [];
        for (const v of ns.split(/[ \t,]+/).filter(Boolean)) {
          const ip = canonicalIp(v);
          if (!ip) bad('nameservers', `"${v}" is not an IPv4 or IPv6 address`);
          else if (list.includes(ip)) bad('nameservers', `${ip} listed twice`);
          else list.push(ip);
        }
        if (list.length > LIMITS.nameservers) bad('nameservers', `more than ${LIMITS.nameservers} name servers`);
        out.dns.nameservers = list;
      }
      const search = str('search');
      if (search !== undefined) {
        const list: string[] = [];
        for (const v of search.split(/[ \t,]+/).filter(Boolean)) {
          const why = whyNot(checkDomain(v)) ?? (list.includes(v) ? 'listed twice' : undefined);
          if (why) bad('search', `"${v}": ${why}`);
          else list.push(v);
        }
        if (list.length > LIMITS.searchDomains) bad('search', `more than ${LIMITS.searchDomains} search domains`);
        out.dns.search = list;
      }
      const domain = str('domain');
      if (domain !== undefined) {
        const c = checkDomain(domain);
        if (!c.ok) bad('domain', c.why);
        else out.dns.domain = c.value;
      }
    } else {
      const nic = parseNic(sec, bad, str);
      if (nic) {
        const keyLines = new Map([...sec.values].map(([k, v]) => [k, v.line]));
        out.nics.push({ nic, label: sec.label, line: sec.line, keyLines });
      }
    }
  }
  return out;
}

function parseNic(sec: RawSection, bad: (k: string, why: string) => void, str: (k: string) => string | undefined): NicConfig | undefined {
  const methodCheck = checkNicMethod(str('method') ?? 'static');
  if (!methodCheck.ok) {
    bad('method', methodCheck.why);
    return undefined;
  }
  const method = methodCheck.value;
  const nic: NicConfig = { match: sec.match!, method };
  let ok = true;
  const fail = (k: string, why: string) => {
    bad(k, why);
    ok = false;
  };
  const addressKeys = ['address', 'gateway', 'broadcast', 'ipv6', 'ipv6_gateway'];
  if (method !== 'static') {
    for (const k of addressKeys) if (str(k) !== undefined) fail(k, `only valid with method = static (this NIC is ${method})`);
  } else {
    let v4: Cidr | undefined;
    const address = str('address');
    if (address !== undefined) {
      const c = checkCidrText(address, 4, false);
      if (!c.ok) fail('address', c.why);
      else v4 = c.value;
    }
    for (const k of ['gateway', 'broadcast']) {
      const v = str(k);
      if (v === undefined) continue;
      if (address === undefined) fail(k, `needs an IPv4 address (address = ...) in the same section`);
      else if (familyOf(v) !== 4) fail(k, 'not an IPv4 address');
    }
    if (v4) {
      nic.ipv4 = { address: v4 };
      const gw = str('gateway');
      if (gw !== undefined && familyOf(gw) === 4) nic.ipv4.gateway = canonicalIp(gw)!;
      const bc = str('broadcast');
      if (bc !== undefined && familyOf(bc) === 4) nic.ipv4.broadcast = canonicalIp(bc)!;
    }
    const ipv6 = str('ipv6');
    if (ipv6 !== undefined) {
      const c = checkCidrText(ipv6, 6, false);
      if (!c.ok) fail('ipv6', c.why);
      else nic.ipv6 = { address: c.value };
    }
    const gw6 = str('ipv6_gateway');
    if (gw6 !== undefined) {
      if (ipv6 === undefined) fail('ipv6_gateway', 'needs an IPv6 address (ipv6 = ...) in the same section');
      else if (familyOf(gw6) !== 6) fail('ipv6_gateway', 'not an IPv6 address');
      else if (nic.ipv6) nic.ipv6.gateway = canonicalIp(gw6)!;
    }
    if (address === undefined && ipv6 === undefined && ok) {
      fail('method', str('method') === undefined
        ? 'method defaults to static, which needs address = A.B.C.D/P and/or ipv6 = X::Y/P (or set method = dhcp)'
        : 'static needs address = A.B.C.D/P and/or ipv6 = X::Y/P');
    }
  }
  const mtu = str('mtu');
  if (mtu !== undefined) {
    const m = checkInt(mtu, LIMITS.mtu.min, LIMITS.mtu.max);
    if (!m.ok) fail('mtu', m.why);
    else nic.mtu = m.value;
  }
  return ok ? nic : undefined;
}

export interface IniValues {
  instanceId?: string;
  hostname?: string;
  postInstallMode?: PostInstallMode;
  postInstallTimeoutSec?: number;
  nics: NicConfig[];
  identity?: Partial<Record<IdentityKey, false>>;
}

/** Whether a model needs context.ini at all (Snooze-only contexts do not). */
export function needsIni(v: IniValues): boolean {
  return v.instanceId !== undefined || v.hostname !== undefined || v.postInstallMode !== undefined
    || v.postInstallTimeoutSec !== undefined || v.nics.length > 0 || Object.keys(v.identity ?? {}).length > 0;
}

export function serializeIniFile(v: IniValues): string {
  const lines = ['# Context extension (see docs/context-format.md).', '[context]', 'version = 1'];
  if (v.instanceId !== undefined) lines.push(`instance_id = ${v.instanceId}`);
  if (v.hostname !== undefined) lines.push(`hostname = ${v.hostname}`);
  if (v.postInstallMode !== undefined) lines.push(`post_install = ${v.postInstallMode}`);
  if (v.postInstallTimeoutSec !== undefined) lines.push(`post_install_timeout = ${v.postInstallTimeoutSec}`);
  for (const nic of v.nics) {
    lines.push('', `[nic "${matchLabel(nic.match)}"]`, `method = ${nic.method}`);
    if (nic.ipv4) {
      lines.push(`address = ${nic.ipv4.address.address}/${nic.ipv4.address.prefix}`);
      if (nic.ipv4.gateway) lines.push(`gateway = ${nic.ipv4.gateway}`);
      if (nic.ipv4.broadcast) lines.push(`broadcast = ${nic.ipv4.broadcast}`);
    }
    if (nic.ipv6) {
      lines.push(`ipv6 = ${nic.ipv6.address.address}/${nic.ipv6.address.prefix}`);
      if (nic.ipv6.gateway) lines.push(`ipv6_gateway = ${nic.ipv6.gateway}`);
    }
    if (nic.mtu !== undefined) lines.push(`mtu = ${nic.mtu}`);
  }
  const keep = IDENTITY_KEYS.filter((k) => v.identity?.[k] === false);
  if (keep.length) lines.push('', '[identity]', ...keep.map((k) => `${k} = no`));
  return `${lines.join('\n')}\n`;
}

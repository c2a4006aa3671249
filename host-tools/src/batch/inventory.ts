/**
 * Inventory INI -> a list of VM requests with their settings (defaults + group/vm overrides).
 * Only syntax and single-value checks happen here; cross-VM checks (names, addresses, MACs, UUIDs)
 * and anything that reads other files happen in plan.ts. See host-tools/README.md for the format.
 */
import { dirname, resolve } from 'node:path';
import type { Problem } from '../../../lib/context/errors.js';
import type { Checked } from '../../../lib/context/rules.js';
import { DEFAULT_VOLUME_LABEL } from '../../../lib/context/model.js';
import { parseIPv4, parseIPv6 } from '../../../lib/net/ip.js';
import {
  CDROM_BUSES,
  DISK_FORMATS,
  DOMAIN_FORMATS,
  GUEST_TYPES,
  HYPERVISORS,
  type CdromBus,
  type DiskFormat,
  type DomainFormat,
  type GuestType,
  type Hypervisor,
} from '../domain/spec.js';
import { checkMac, checkIpMacPrefix } from '../mac.js';
import { parseSize } from '../overlay.js';
import { POST_INSTALL_MODES, parseCidr } from '../context-flags.js';
import { checkBridge, checkConfigPath, checkHostLabel, checkInt, checkLine, checkNetworkName, checkUuid, checkVolumeLabel } from '../values.js';
import { parseIni, type IniSection } from './ini.js';
import { parsePool, type Pool } from './pool.js';

export type MacMode = 'random' | 'ip';

/** Settings a VM inherits from [defaults] and may override in its [group] or [vm] section. */
export interface VmSettings {
  bridge?: string;
  network?: string;
  baseImage?: string;
  baseFormat?: DiskFormat;
  disk?: string;
  diskFormat?: DiskFormat;
  size?: string;
  memory: number;
  vcpus: number;
  gateway?: string;
  dns?: string[];
  search?: string[];
  domain?: string;
  label: string;
  hypervisor: Hypervisor;
  cdromBus?: CdromBus;
  format: DomainFormat;
  guestType: GuestType;
  template?: string;
  postInstall?: string;
  postInstallMode?: string;
  sshKeys?: string[];
  macMode: MacMode;
  /** Two-octet prefix for mac_mode = ip (00:16 Snooze, 02:00 locally administered). */
  macPrefix: string;
  /** Private key that signs each VM's context for its own UUID and MAC (docs/signed-contexts.md). */
  signKey?: string;
  /** `host = NAME`: place the VM on [host NAME] (otherwise placement picks one). */
  host?: string;
  /** Direct kernel boot (paths on the VM's host): <os><kernel/><initrd/><cmdline/>. */
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  /** The serial console is also logged to this file on the VM's host (`{name}` is the VM name). */
  consoleLog?: string;
  /** A QEMU user-mode NIC (no bridge or libvirt network needed; guests reach out, nothing reaches in). */
  userNetworking?: boolean;
  /** `nic2` ... `nic8`: NICs after the first (which the bridge/network/address/mac keys describe), by number. */
  extraNics?: Record<number, ExtraNic>;
  /** Section each key's value was written in ("[defaults]", "[group web]", "[vm db01]"): errors name it. */
  origin: Record<string, string>;
}

export interface VmRequest {
  name: string;
  /** Where it came from, for messages: "[vm web01]" or "[group web] web03". */
  where: string;
  line: number;
  settings: VmSettings;
  address?: { address: string; prefix?: number };
  /** `address = dhcp` was written: no address, on purpose. */
  dhcp?: boolean;
  mac?: string;
  uuid?: string;
  /** Its section had a problem already (reported by readInventory). */
  invalid?: boolean;
}

/** One `nicN = k=v, ...` value: the NIC's link, its address rule and its MAC rule. */
export interface ExtraNic {
  source: { kind: 'bridge' | 'network'; name: string } | { kind: 'user' };
  /** dhcp (default without a pool), a fixed address, or allocation from this NIC's own pool. */
  address: { kind: 'dhcp' } | { kind: 'fixed'; address: string; prefix: number } | { kind: 'pool'; pool: Pool; text: string };
  mac?: string;
  macMode: MacMode;
}

export const MAX_NICS = 8;
const NIC_FIELDS = ['bridge', 'network', 'user', 'address', 'pool', 'prefix', 'mac', 'mac_mode'];

/** `bridge=br1, pool=10.1.0.10-10.1.0.99, prefix=24, mac_mode=ip`: a NIC after the first. */
export function parseExtraNic(v: string): { nic?: ExtraNic; why?: string } {
  const fields = new Map<string, string>();
  for (const part of list(v)) {
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).trim();
    const val = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!NIC_FIELDS.includes(k)) return { why: `unknown NIC field ${k} (fields: ${NIC_FIELDS.join(', ')})` };
    if (fields.has(k)) return { why: `${k} given twice` };
    fields.set(k, val);
  }
  const links = ['bridge', 'network', 'user'].filter((k) => fields.has(k));
  if (links.length !== 1) return { why: 'give exactly one of bridge=BR, network=NAME or user=yes' };
  let source: ExtraNic['source'];
  if (fields.has('bridge')) {
    const c = checkBridge(fields.get('bridge')!);
    if (!c.ok) return { why: `bridge: ${c.why}` };
    source = { kind: 'bridge', name: fields.get('bridge')! };
  } else if (fields.has('network')) {
    const c = checkNetworkName(fields.get('network')!);
    if (!c.ok) return { why: `network: ${c.why}` };
    source = { kind: 'network', name: fields.get('network')! };
  } else {
    if (fields.get('user') !== 'yes') return { why: 'user must be yes' };
    source = { kind: 'user' };
  }
  let address: ExtraNic['address'] = { kind: 'dhcp' };
  const addr = fields.get('address');
  const poolText = fields.get('pool');
  const prefixText = fields.get('prefix');
  if (addr !== undefined && poolText !== undefined) return { why: 'give address= or pool=, not both' };
  if (addr !== undefined && addr !== 'dhcp') {
    const c = parseCidr(addr, { requireNetwork: false, allowBare: true });
    if (!c.cidr || !parseIPv4(c.cidr.address)) return { why: `address: ${c.why ?? 'batch addresses are IPv4'}` };
    const prefix = addr.includes('/') ? c.cidr.prefix : prefixText !== undefined ? Number(prefixText) : undefined;
    if (prefix === undefined || !Number.isInteger(prefix) || prefix < 1 || prefix > 32) return { why: 'address needs a prefix: address=A/P (or prefix=P)' };
    address = { kind: 'fixed', address: c.cidr.address, prefix };
  } else if (poolText !== undefined) {
    const r = parsePool(poolText, prefixText);
    if (!r.pool) return { why: `pool: ${r.why}` };
    address = { kind: 'pool', pool: r.pool, text: `${poolText}/${prefixText ?? ''}` };
  }
  let mac: string | undefined;
  if (fields.has('mac')) {
    const c = checkMac(fields.get('mac')!);
    if (!c.ok) return { why: `mac: ${c.why}` };
    mac = c.value;
  }
  const mm = fields.get('mac_mode') ?? 'random';
  if (mm !== 'random' && mm !== 'ip') return { why: 'mac_mode must be random or ip' };
  if (mm === 'ip' && address.kind === 'dhcp') return { why: 'mac_mode=ip needs address= or pool=' };
  return { nic: { source, address, mac, macMode: mm } };
}

/** A `[host NAME]` section: a libvirt host the batch places VMs on, with the storage pool for their volumes. */
export interface HostSpec {
  name: string;
  where: string;
  line: number;
  uri: string;
  /** libvirt storage pool (on that host) for the VMs' context ISOs and overlays. */
  pool: string;
  /** At most this many VMs of this OUTDIR on the host (default: no limit). */
  capacity?: number;
  /** Volume in `pool` the VMs' qcow2 overlays are backed by. */
  baseVolume?: string;
}

export interface Inventory {
  file: string;
  /** `[host NAME]` sections in inventory order; empty: local mode (files in OUTDIR only). */
  hosts: HostSpec[];
  defaults: VmSettings;
  pool?: Pool;
  /** `pool = dhcp`: VMs without an address use DHCP, on purpose (no pool is otherwise an error). */
  poolDhcp?: boolean;
  /** Prefix for fixed addresses given without one when there is no pool. */
  prefix?: number;
  vms: VmRequest[];
}

type Scope = 'defaults' | 'vm' | 'group';
const ALL: Scope[] = ['defaults', 'vm', 'group'];

interface KeyRule {
  scopes: Scope[];
  /** Applies the value to settings; returns a reason when invalid. */
  set?: (s: VmSettings, v: string, base: string) => string | undefined;
}

const list = (v: string): string[] => v.split(',').map((x) => x.trim()).filter(Boolean);
const path = (base: string, v: string): string => resolve(base, v);

function choice<T extends string>(values: readonly T[], apply: (s: VmSettings, v: T) => void): KeyRule['set'] {
  return (s, v) => {
    if (!(values as readonly string[]).includes(v)) return `must be one of ${values.join(', ')}`;
    apply(s, v as T);
    return undefined;
  };
}

/** A key whose value one catalog rule checks: its reason is the problem, else `apply` gets the checked value and the raw text. */
function checked<T>(check: (v: string) => Checked<T>, apply: (s: VmSettings, value: T, raw: string) => void, prefix = ''): KeyRule['set'] {
  return (s, v) => {
    const c = check(v);
    if (!c.ok) return `${prefix}${c.why}`;
    apply(s, c.value, v);
    return undefined;
  };
}

function checkedPath(apply: (s: VmSettings, p: string) => void): KeyRule['set'] {
  return (s, v, base) => {
    const c = checkConfigPath(v);
    if (!c.ok) return c.why;
    apply(s, path(base, v));
    return undefined;
  };
}

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export const KEYS: Record<string, KeyRule> = {
  bridge: {
    scopes: ALL,
    set: (s, v) => {
      const c = checkBridge(v);
      if (!c.ok) return c.why;
      s.bridge = v;
      delete s.network;
      return undefined;
    },
  },
  network: {
    scopes: ALL,
    set: (s, v) => {
      const c = checkNetworkName(v);
      if (!c.ok) return c.why;
      s.network = v;
      delete s.bridge;
      return undefined;
    },
  },
  base_image: { scopes: ALL, set: checkedPath((s, p) => (s.baseImage = p)) },
  base_format: { scopes: ALL, set: choice(DISK_FORMATS, (s, v) => (s.baseFormat = v)) },
  disk: { scopes: ALL, set: checkedPath((s, p) => (s.disk = p)) },
  disk_format: { scopes: ALL, set: choice(DISK_FORMATS, (s, v) => (s.diskFormat = v)) },
  size: {
    scopes: ALL,
    set: (s, v) => {
      if (parseSize(v) === undefined) return 'size must be a number with an optional K, M, G or T suffix';
      s.size = v;
      return undefined;
    },
  },
  memory: {
    scopes: ALL,
    set: checked((v) => checkInt(v, 16, 16 * 1024 * 1024, 'MiB'), (s, n) => (s.memory = n)),
  },
  vcpus: {
    scopes: ALL,
    set: checked((v) => checkInt(v, 1, 4096), (s, n) => (s.vcpus = n)),
  },
  gateway: {
    scopes: ALL,
    set: (s, v) => {
      const g = parseIPv4(v);
      if (!g) return 'not an IPv4 address';
      s.gateway = g;
      return undefined;
    },
  },
  dns: {
    scopes: ALL,
    set: (s, v) => {
      const out: string[] = [];
      for (const d of list(v)) {
        const a = parseIPv4(d) ?? parseIPv6(d);
        if (!a) return `${d} is not an IPv4 or IPv6 address`;
        out.push(a);
      }
      s.dns = out;
      return undefined;
    },
  },
  search: {
    scopes: ALL,
    set: (s, v) => {
      const l = list(v);
      const badName = l.find((d) => !DNS_NAME.test(d));
      if (badName) return `${badName} is not a DNS domain name`;
      s.search = l;
      return undefined;
    },
  },
  domain: {
    scopes: ALL,
    set: (s, v) => {
      if (!DNS_NAME.test(v)) return 'not a DNS domain name';
      s.domain = v;
      return undefined;
    },
  },
  label: {
    scopes: ALL,
    set: checked(checkVolumeLabel, (s, _, raw) => (s.label = raw)),
  },
  hypervisor: { scopes: ALL, set: choice(HYPERVISORS, (s, v) => (s.hypervisor = v)) },
  cdrom_bus: { scopes: ALL, set: choice(CDROM_BUSES, (s, v) => (s.cdromBus = v)) },
  format: { scopes: ALL, set: choice(DOMAIN_FORMATS, (s, v) => (s.format = v)) },
  guest_type: { scopes: ALL, set: choice(GUEST_TYPES, (s, v) => (s.guestType = v)) },
  template: { scopes: ALL, set: checkedPath((s, p) => (s.template = p)) },
  post_install: { scopes: ALL, set: checkedPath((s, p) => (s.postInstall = p)) },
  post_install_mode: { scopes: ALL, set: choice(POST_INSTALL_MODES, (s, v) => (s.postInstallMode = v)) },
  ssh_key: {
    scopes: ALL,
    set: (s, v, base) => {
      const files = list(v);
      for (const f of files) {
        const c = checkConfigPath(f);
        if (!c.ok) return c.why;
      }
      s.sshKeys = files.map((f) => path(base, f));
      return undefined;
    },
  },
  sign_key: { scopes: ALL, set: checkedPath((s, p) => (s.signKey = p)) },
  mac_mode: { scopes: ALL, set: choice(['random', 'ip'] as const, (s, v) => (s.macMode = v)) },
  mac_prefix: {
    scopes: ALL,
    set: checked(checkIpMacPrefix, (s, prefix) => (s.macPrefix = prefix)),
  },
  host: {
    scopes: ALL,
    set: checked(checkHostLabel, (s, _, raw) => (s.host = raw), 'host name '),
  },
  kernel: { scopes: ALL, set: checkedPath((s, p) => (s.kernel = p)) },
  initrd: { scopes: ALL, set: checkedPath((s, p) => (s.initrd = p)) },
  cmdline: {
    scopes: ALL,
    set: checked(checkLine, (s, _, raw) => (s.cmdline = raw)),
  },
  console_log: { scopes: ALL, set: checkedPath((s, p) => (s.consoleLog = p)) },
  user_networking: {
    scopes: ALL,
    set: (s, v) => {
      if (v !== 'yes' && v !== 'no') return 'must be yes or no';
      s.userNetworking = v === 'yes';
      return undefined;
    },
  },
  ...Object.fromEntries(
    Array.from({ length: MAX_NICS - 1 }, (_, i) => [
      `nic${i + 2}`,
      {
        scopes: ALL,
        set: (st: VmSettings, v: string) => {
          if (v === 'none') {
            delete st.extraNics?.[i + 2]; // a [vm] may drop a NIC its group or [defaults] gives
            return undefined;
          }
          const r = parseExtraNic(v);
          if (!r.nic) return r.why;
          st.extraNics = { ...st.extraNics, [i + 2]: r.nic };
          return undefined;
        },
      } satisfies KeyRule,
    ]),
  ),
  // Handled by the section readers below, listed here for scope checks.
  pool: { scopes: ['defaults'] },
  prefix: { scopes: ['defaults'] },
  address: { scopes: ['vm'] },
  mac: { scopes: ['vm'] },
  uuid: { scopes: ['vm'] },
  count: { scopes: ['group'] },
  name: { scopes: ['group'] },
};

export function defaultSettings(): VmSettings {
  return {
    memory: 1024,
    vcpus: 1,
    label: DEFAULT_VOLUME_LABEL,
    hypervisor: 'kvm',
    format: 'libvirt',
    guestType: 'hvm',
    macMode: 'random',
    macPrefix: '00:16',
    origin: {},
  };
}

/** `web{01..20}` -> web01..web20; `web{01}` + count; none -> `<group>{01..count}`. */
export function expandNamePattern(pattern: string | undefined, group: string, count: number | undefined): { names?: string[]; why?: string } {
  const pat = pattern ?? `${group}{${'1'.padStart(Math.max(2, String(count ?? 1).length), '0')}}`;
  const m = /^([^{}]*)\{([0-9]+)(?:\.\.([0-9]+))?\}([^{}]*)$/.exec(pat);
  if (!m) {
    if (pattern !== undefined && !/[{}]/.test(pattern) && (count === undefined || count === 1)) return { names: [pattern] };
    return { why: 'name pattern must look like web{01..20}, or web{01} with count = N' };
  }
  const [, pre, a, b, post] = m as unknown as [string, string, string, string | undefined, string];
  const start = Number(a);
  let n: number;
  if (b !== undefined) {
    n = Number(b) - start + 1;
    if (n < 1) return { why: 'name range is backwards' };
    if (count !== undefined && count !== n) return { why: `count = ${count} but the name range gives ${n}` };
  } else {
    if (count === undefined) return { why: 'give count = N or a range like web{01..20}' };
    n = count;
  }
  const width = a.length;
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push(`${pre}${String(start + i).padStart(width, '0')}${post}`);
  return { names };
}

const MAX_VMS = 100_000;

/**
 * `file` names the inventory in messages; relative paths inside it are resolved against `baseDir`
 * (default: the directory of `file`).
 */
export function readInventory(text: string, file: string, baseDir = dirname(resolve(file))): { inventory: Inventory; problems: Problem[] } {
  const { sections, problems } = parseIni(text, file);
  const base = baseDir;
  const defaults = defaultSettings();
  const inventory: Inventory = { file, defaults, hosts: [], vms: [] };
  const p = (where: string, key: string, value: string | undefined, why: string) =>
    problems.push({ file, key: key ? `${where} ${key}` : where, value, why });

  const kinds = sections.map((s) => ({ s, ...classify(s.header) }));
  for (const k of kinds) if (k.why) p(`[${k.s.header}]`, '', undefined, k.why);
  const defaultsSection = kinds.find((k) => k.kind === 'defaults')?.s;

  function applyKeys(section: IniSection, scope: Scope, settings: VmSettings, where: string): void {
    for (const [key, e] of section.entries) {
      const rule = KEYS[key];
      if (!rule) {
        p(where, key, e.value, `unknown key (line ${e.line})`);
        continue;
      }
      if (!rule.scopes.includes(scope)) {
        p(where, key, e.value, `not allowed in a ${scope} section (allowed in: ${rule.scopes.join(', ')})`);
        continue;
      }
      const why = rule.set?.(settings, e.value, base);
      settings.origin[key] = where;
      if (why) p(where, key, e.value, why);
    }
  }

  if (defaultsSection) {
    applyKeys(defaultsSection, 'defaults', defaults, '[defaults]');
    const prefixText = defaultsSection.entries.get('prefix')?.value;
    const poolText = defaultsSection.entries.get('pool')?.value;
    if (prefixText !== undefined) {
      const c = checkInt(prefixText, 1, 32);
      if (!c.ok) p('[defaults]', 'prefix', prefixText, c.why);
      else inventory.prefix = c.value;
    }
    if (poolText === 'dhcp') inventory.poolDhcp = true;
    else if (poolText !== undefined) {
      const r = parsePool(poolText, prefixText);
      if (!r.pool) p('[defaults]', 'pool', poolText, r.why!);
      else {
        inventory.pool = r.pool;
        inventory.prefix = r.pool.prefix;
      }
    }
  }

  for (const k of kinds) {
    if (k.kind === 'host') {
      const h = readHost(k.s, k.name!, p);
      if (h) inventory.hosts.push(h);
    } else if (k.kind === 'vm') {
      const where = `[${k.s.header}]`;
      const settings = structuredClone(defaults);
      applyKeys(k.s, 'vm', settings, where);
      const vm: VmRequest = { name: k.name!, where, line: k.s.line, settings };
      const n = checkHostLabel(k.name!);
      if (!n.ok) p(where, '', k.name, `VM name ${n.why} (it is also the guest host name)`);
      const addr = k.s.entries.get('address')?.value;
      if (addr !== undefined) {
        if (addr === 'dhcp') vm.dhcp = true;
        else {
          const c = parseCidr(addr, { requireNetwork: false, allowBare: true });
          const bare = !addr.includes('/');
          if (!c.cidr || !parseIPv4(c.cidr.address)) p(where, 'address', addr, c.why ?? 'batch addresses are IPv4');
          else vm.address = { address: c.cidr.address, prefix: bare ? undefined : c.cidr.prefix };
        }
      }
      const mac = k.s.entries.get('mac')?.value;
      if (mac !== undefined) {
        const c = checkMac(mac);
        if (!c.ok) p(where, 'mac', mac, c.why);
        else vm.mac = c.value;
      }
      const uuid = k.s.entries.get('uuid')?.value;
      if (uuid !== undefined) {
        const c = checkUuid(uuid);
        if (!c.ok) p(where, 'uuid', uuid, c.why);
        else vm.uuid = c.value;
      }
      inventory.vms.push(vm);
    } else if (k.kind === 'group') {
      const where = `[${k.s.header}]`;
      const settings = structuredClone(defaults);
      applyKeys(k.s, 'group', settings, where);
      const countText = k.s.entries.get('count')?.value;
      let count: number | undefined;
      if (countText !== undefined) {
        const c = checkInt(countText, 1, MAX_VMS);
        if (!c.ok) p(where, 'count', countText, c.why);
        else count = c.value;
      }
      const pattern = k.s.entries.get('name')?.value;
      if (countText !== undefined && count === undefined) continue;
      const r = expandNamePattern(pattern, k.name!, count);
      if (!r.names) {
        p(where, 'name', pattern ?? '', r.why!);
        continue;
      }
      if (r.names.length > MAX_VMS) {
        p(where, 'name', pattern, `more than ${MAX_VMS} VMs`);
        continue;
      }
      const badName = r.names.find((nm) => !checkHostLabel(nm).ok);
      if (badName) {
        p(where, 'name', pattern ?? badName, `${badName}: VM names must be RFC 1123 host labels`);
        continue;
      }
      for (const name of r.names) inventory.vms.push({ name, where: `${where} ${name}`, line: k.s.line, settings: structuredClone(settings) });
    }
  }
  const badSections = new Set(problems.map((p) => /^\[[^\]]*\]/.exec(p.key ?? '')?.[0]).filter(Boolean));
  for (const vm of inventory.vms) if (badSections.has(/^\[[^\]]*\]/.exec(vm.where)![0]) || badSections.has('[defaults]')) vm.invalid = true;
  if (inventory.vms.length === 0 && problems.length === 0) {
    problems.push({ file, why: 'inventory defines no VMs (add [vm NAME] or [group NAME] sections)' });
  }
  return { inventory, problems };
}

const HOST_KEYS = ['uri', 'pool', 'capacity', 'base_volume'];
// libvirt object names: no '/' (a dir pool makes the name a file name), no control characters, no quotes.
const LIBVIRT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$/;

/** `[host NAME]`: uri and pool required, capacity and base_volume optional. */
function readHost(section: IniSection, name: string, p: (where: string, key: string, value: string | undefined, why: string) => void): HostSpec | undefined {
  const where = `[${section.header}]`;
  let ok = true;
  const bad = (key: string, value: string | undefined, why: string) => {
    p(where, key, value, why);
    ok = false;
  };
  const n = checkHostLabel(name);
  if (!n.ok) bad('', name, `host name ${n.why}`);
  for (const [key, e] of section.entries) if (!HOST_KEYS.includes(key)) bad(key, e.value, `unknown key in a host section (line ${e.line}; allowed: ${HOST_KEYS.join(', ')})`);
  const get = (k: string) => section.entries.get(k)?.value;
  const uri = get('uri');
  // A libvirt URI: driver[+transport]://[user@][host][:port]/path[?params]. The query may carry keyfile= etc.
  if (uri === undefined) bad('uri', undefined, 'required: the libvirt URI of the host (qemu:///system, qemu+ssh://root@host/system)');
  else if (!/^[a-z][a-z0-9]*(\+[a-z0-9]+)?:\/\/[^\s'"\\]*$/.test(uri) || !checkLine(uri).ok) bad('uri', uri, 'not a libvirt URI (driver[+transport]://[user@host[:port]]/path)');
  const pool = get('pool');
  if (pool === undefined) bad('pool', undefined, 'required: the libvirt storage pool on that host for the VMs\' volumes');
  else if (!LIBVIRT_NAME.test(pool)) bad('pool', pool, 'not a storage pool name (letters, digits, _ . + -)');
  const base = get('base_volume');
  if (base !== undefined && !LIBVIRT_NAME.test(base)) bad('base_volume', base, 'not a volume name (letters, digits, _ . + -)');
  let capacity: number | undefined;
  const cap = get('capacity');
  if (cap !== undefined) {
    const c = checkInt(cap, 1, MAX_VMS);
    if (!c.ok) bad('capacity', cap, c.why);
    else capacity = c.value;
  }
  if (!ok) return undefined;
  return { name, where, line: section.line, uri: uri!, pool: pool!, capacity, baseVolume: base };
}

function classify(header: string): { kind?: 'defaults' | 'vm' | 'group' | 'host'; name?: string; why?: string } {
  if (header === 'defaults') return { kind: 'defaults' };
  const m = /^(vm|group|host) (\S+)$/.exec(header);
  if (m) return { kind: m[1] as 'vm' | 'group' | 'host', name: m[2] };
  return { why: 'section must be [defaults], [host NAME], [vm NAME] or [group NAME]' };
}

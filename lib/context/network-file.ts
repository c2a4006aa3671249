/**
 * common/network: the Snooze keys. GATEWAY, NETWORK, NETMASK and BROADCAST describe the legacy
 * subnet (the MAC->IPv4 rule); NAMESERVER, DOMAIN and SEARCH the resolver.
 *
 * Choices: several name servers or search domains go space-separated in ONE key
 * (NAMESERVER="192.0.2.1 192.0.2.2"); a repeated key is an error, and NAMESERVER2-style keys are
 * unknown keys. An empty value (`DOMAIN=`, as in Snooze's own template) means "not set".
 */
import type { Problems } from './errors.js';
import type { LegacySubnet } from './model.js';
import { CONTEXT_PATHS } from './model.js';
import { LIMITS } from './limits.js';
import { readLines } from './text.js';
import { readAssignments, shellQuote } from './shell-assign.js';
import { checkDomain, whyNot } from './rules.js';
import { broadcastAddress, isUsableHostAddress, netmaskFromPrefix, networkAddress, parseIPv4, parseIPv6, prefixFromNetmask, inSubnet } from '../net/ip.js';

export const NETWORK_KEYS = ['GATEWAY', 'NETWORK', 'BROADCAST', 'NETMASK', 'NAMESERVER', 'DOMAIN', 'SEARCH'] as const;
export type NetworkKey = (typeof NETWORK_KEYS)[number];

export interface NetworkFile {
  legacySubnet?: LegacySubnet;
  nameservers: string[];
  domain?: string;
  /** SEARCH as written (DOMAIN is put first later, when the model is assembled). */
  search: string[];
  /** Line of each key that was set (non-empty), for later problems. */
  lines: Partial<Record<NetworkKey, number>>;
}

const FILE = CONTEXT_PATHS.network;

export function parseNetworkFile(buf: Buffer, problems: Problems): NetworkFile {
  const out: NetworkFile = { nameservers: [], search: [], lines: {} };
  const lines = readLines(FILE, buf, LIMITS.textFileBytes, problems);
  const raw = new Map<NetworkKey, { value: string; line: number }>();
  const firstLine = new Map<string, number>();
  for (const a of readAssignments(FILE, lines, problems)) {
    const where = `line ${a.line}: ${a.key}`;
    const seen = firstLine.get(a.key);
    if (seen !== undefined) {
      problems.add(FILE, where, a.value, `duplicate key (first set on line ${seen}); put several values in one key, space separated`);
      continue;
    }
    firstLine.set(a.key, a.line);
    if (!(NETWORK_KEYS as readonly string[]).includes(a.key)) {
      problems.add(FILE, where, a.value, unknownKeyWhy(a.key));
      continue;
    }
    if (a.value.trim() === '') continue; // `DOMAIN=`: not set
    raw.set(a.key as NetworkKey, { value: a.value.trim(), line: a.line });
  }
  const at = (k: NetworkKey) => `line ${raw.get(k)!.line}: ${k}`;
  for (const [k, v] of raw) out.lines[k] = v.line;

  // One IPv4 value per key; a bad one is reported and treated as absent.
  const ipv4 = (k: NetworkKey): string | undefined => {
    const v = raw.get(k);
    if (!v) return undefined;
    const ip = parseIPv4(v.value);
    if (!ip) problems.add(FILE, at(k), v.value, 'not an IPv4 address (four decimal numbers 0-255, no leading zeros)');
    return ip;
  };
  const gateway = ipv4('GATEWAY');
  const network = ipv4('NETWORK');
  const broadcast = ipv4('BROADCAST');
  let prefix: number | undefined;
  const mask = raw.get('NETMASK');
  if (mask) {
    const m = parseIPv4(mask.value);
    if (!m) problems.add(FILE, at('NETMASK'), mask.value, 'not an IPv4 netmask (e.g. 255.255.255.0)');
    else {
      prefix = prefixFromNetmask(m);
      if (prefix === undefined) problems.add(FILE, at('NETMASK'), mask.value, 'netmask bits are not contiguous');
      else if (prefix < LIMITS.legacyPrefix.min || prefix > LIMITS.legacyPrefix.max) {
        problems.add(FILE, at('NETMASK'), mask.value,
          `the legacy MAC->IPv4 rule needs a prefix from /${LIMITS.legacyPrefix.min} to /${LIMITS.legacyPrefix.max} (this is /${prefix})`);
        prefix = undefined;
      }
    }
  }
  const has = (k: NetworkKey) => raw.has(k);
  if (has('NETWORK') !== has('NETMASK')) {
    const [set, missing] = has('NETWORK') ? (['NETWORK', 'NETMASK'] as const) : (['NETMASK', 'NETWORK'] as const);
    problems.add(FILE, at(set), raw.get(set)!.value, `${set} needs ${missing} too (together they define the legacy subnet)`);
  }
  for (const k of ['GATEWAY', 'BROADCAST'] as const) {
    if (has(k) && !(has('NETWORK') && has('NETMASK'))) {
      problems.add(FILE, at(k), raw.get(k)!.value,
        `${k} needs NETWORK and NETMASK (the legacy subnet); a NIC's own gateway goes in ${CONTEXT_PATHS.extension} [nic] gateway=`);
    }
  }
  if (network && prefix !== undefined) {
    const subnet: LegacySubnet = { network: { address: network, prefix } };
    const net = networkAddress(network, prefix);
    if (net !== network) {
      problems.add(FILE, at('NETWORK'), network, `not the network address of itself/${netmaskFromPrefix(prefix)} (that is ${net})`);
    } else {
      if (gateway) {
        if (!inSubnet(gateway, network, prefix)) problems.add(FILE, at('GATEWAY'), gateway, `not inside NETWORK/NETMASK ${network}/${prefix}`);
        else if (!isUsableHostAddress(gateway, prefix)) problems.add(FILE, at('GATEWAY'), gateway, `is the network or broadcast address of ${network}/${prefix}`);
        else subnet.gateway = gateway;
      }
      if (broadcast) {
        const b = broadcastAddress(network, prefix);
        if (b !== broadcast) problems.add(FILE, at('BROADCAST'), broadcast, `does not match NETWORK/NETMASK (the broadcast of ${network}/${prefix} is ${b})`);
        else subnet.broadcast = broadcast;
      }
      out.legacySubnet = subnet;
    }
  }

  const ns = raw.get('NAMESERVER');
  if (ns) {
    for (const v of ns.value.split(/[ \t]+/)) {
      const ip = parseIPv4(v) ?? parseIPv6(v);
      if (!ip) problems.add(FILE, at('NAMESERVER'), v, 'not an IPv4 or IPv6 address');
      else if (out.nameservers.includes(ip)) problems.add(FILE, at('NAMESERVER'), v, 'listed twice');
      else out.nameservers.push(ip);
    }
    if (out.nameservers.length > LIMITS.nameservers) {
      problems.add(FILE, at('NAMESERVER'), ns.value, `more than ${LIMITS.nameservers} name servers`);
    }
  }
  const dom = raw.get('DOMAIN');
  if (dom) {
    const why = /[ \t]/.test(dom.value) ? 'DOMAIN is one domain; put more in SEARCH' : whyNot(checkDomain(dom.value));
    if (why) problems.add(FILE, at('DOMAIN'), dom.value, why);
    else out.domain = dom.value;
  }
  const search = raw.get('SEARCH');
  if (search) {
    for (const v of search.value.split(/[ \t]+/)) {
      const why = whyNot(checkDomain(v)) ?? (out.search.includes(v) ? 'listed twice' : undefined);
      if (why) problems.add(FILE, at('SEARCH'), v, why);
      else out.search.push(v);
    }
    if (out.search.length > LIMITS.searchDomains) {
      problems.add(FILE, at('SEARCH'), search.value, `more than ${LIMITS.searchDomains} search domains`);
    }
  }
  return out;
}

function unknownKeyWhy(key: string): string {
  const upper = key.toUpperCase();
  if ((NETWORK_KEYS as readonly string[]).includes(upper)) return `unknown key; keys are upper case (${upper})`;
  if (/^NAMESERVER[0-9]+$/.test(upper)) return 'unknown key; list every name server in NAMESERVER, space separated';
  return `unknown key (known: ${NETWORK_KEYS.join(' ')})`;
}

export interface NetworkFileValues {
  legacySubnet?: LegacySubnet;
  nameservers: string[];
  domain?: string;
  search: string[];
}

const HEADER = [
  '# Snooze context: network settings (shell KEY=VALUE lines; never evaluated).',
  '# NETWORK/NETMASK enable the legacy rule: a NIC whose MAC ends in an address inside this',
  '# subnet (00:16:c0:a8:7a:11 -> 192.168.122.17) gets that address.',
];

export function serializeNetworkFile(v: NetworkFileValues): string {
  const lines = [...HEADER];
  const put = (k: NetworkKey, value: string | undefined) => {
    if (value) lines.push(`${k}=${shellQuote(value)}`);
  };
  const s = v.legacySubnet;
  if (s) {
    put('GATEWAY', s.gateway);
    put('NETWORK', s.network.address);
    put('BROADCAST', s.broadcast);
    put('NETMASK', netmaskFromPrefix(s.network.prefix));
  }
  put('NAMESERVER', v.nameservers.join(' '));
  put('DOMAIN', v.domain);
  put('SEARCH', v.search.join(' '));
  return `${lines.join('\n')}\n`;
}

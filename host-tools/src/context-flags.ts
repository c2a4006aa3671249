/**
 * Command-line context options -> changes to a Context model. Pure: file contents (post-install,
 * SSH keys) are read by the caller and passed in. Every bad value becomes one Problem naming the flag.
 *
 * Merge rules (documented in host-tools/README.md): scalar flags replace the directory's value;
 * --nic merges by MAC (or interface name); --route and --ssh-key append; --dns and --search replace
 * the lists (order matters to resolvers, so mixing two sources would surprise).
 */
import { ContextError, type Problem } from '../../lib/context/errors.js';
import type { Cidr, Context, NicConfig, Route } from '../../lib/context/model.js';
import { DEFAULT_POST_INSTALL_TIMEOUT_SEC } from '../../lib/context/model.js';
import {
  inSubnet,
  inSubnet6,
  ipv6NetworkAddress,
  networkAddress,
  parseIPv4,
  parseIPv6,
} from '../../lib/net/ip.js';
import { checkAuthorizedKey } from '../../lib/context/authorized-keys.js';
import { LIMITS } from '../../lib/context/limits.js';
import {
  checkCidrText, checkDomain, checkHostname, checkIfname, checkInstanceId, checkInt, checkLine, checkNicLabel, checkPostInstallMode, familyOf, POST_INSTALL_MODES, whyNot,
} from '../../lib/context/rules.js';

export interface ContextFlags {
  hostname?: string;
  nic?: string[];
  gateway?: string;
  dns?: string[];
  search?: string[];
  domain?: string;
  route?: string[];
  postInstall?: { script: string; source: string };
  postInstallMode?: string;
  postInstallTimeout?: string;
  instanceId?: string;
  sshKeys?: { text: string; source: string }[];
  legacySubnet?: string;
}

// The context's own rules (lib/context/rules.ts), so a flag is refused exactly when the agent would refuse it.
export { POST_INSTALL_MODES };
const isIfname = (s: string): boolean => checkIfname(s).ok;

/** "192.168.1.0/24", "fd00::/64", "default", or a bare host address (/32, /128). Undefined when malformed. */
export function parseDestination(s: string): { cidr?: Cidr; why?: string } {
  if (s === 'default') return { cidr: { address: '0.0.0.0', prefix: 0 } };
  if (s === 'default6') return { cidr: { address: '::', prefix: 0 } };
  return parseCidr(s, { requireNetwork: true, allowBare: true });
}

/** Address/prefix with strict parts; `requireNetwork` refuses host bits (10.1.2.3/8 is a typo, not 10.0.0.0/8). */
export function parseCidr(s: string, opts: { requireNetwork: boolean; allowBare?: boolean }): { cidr?: Cidr; why?: string } {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const pfx = slash < 0 ? undefined : s.slice(slash + 1);
  const v4 = parseIPv4(addr);
  const v6 = v4 ? undefined : parseIPv6(addr);
  if (!v4 && !v6) return { why: 'not an IPv4 or IPv6 address' };
  const max = v4 ? 32 : 128;
  if (pfx === undefined) {
    if (!opts.allowBare) return { why: 'missing /prefix' };
    return { cidr: { address: (v4 ?? v6)!, prefix: max } };
  }
  if (!/^[0-9]{1,3}$/.test(pfx) || Number(pfx) > max) return { why: `prefix must be 0-${max}` };
  const prefix = Number(pfx);
  if (opts.requireNetwork) {
    const net = v4 ? networkAddress(v4, prefix) : ipv6NetworkAddress(v6!, prefix);
    if (net !== (v4 ?? v6)) return { why: `host bits set; the network is ${net}/${prefix}` };
  }
  return { cidr: { address: (v4 ?? v6)!, prefix } };
}

/** `DEST [via GW] [dev DEV] [metric N]` or `del DEST`. */
export function parseRouteSpec(spec: string): { route?: Route; why?: string } {
  const words = spec.trim().split(/\s+/);
  let action: Route['action'] = 'add';
  if (words[0] === 'del' || words[0] === 'delete') {
    action = 'delete';
    words.shift();
  }
  const destWord = words.shift();
  if (!destWord) return { why: 'expected "N/P via G [dev D] [metric M]", "default via G" or "del default"' };
  const dest = parseDestination(destWord);
  if (!dest.cidr) return { why: `destination ${destWord}: ${dest.why}` };
  const route: Route = { action, destination: dest.cidr };
  const v4 = parseIPv4(dest.cidr.address) !== undefined;
  while (words.length) {
    const kw = words.shift()!;
    const val = words.shift();
    if (val === undefined) return { why: `"${kw}" needs a value` };
    if (kw === 'via' || kw === 'gw') {
      const gw = v4 ? parseIPv4(val) : parseIPv6(val);
      if (!gw) return { why: `gateway ${val} is not an ${v4 ? 'IPv4' : 'IPv6'} address` };
      route.gateway = gw;
    } else if (kw === 'dev') {
      if (!isIfname(val)) return { why: `device ${val} is not an interface name` };
      route.device = val;
    } else if (kw === 'metric') {
      const m = checkInt(val, LIMITS.metric.min, LIMITS.metric.max);
      if (!m.ok) return { why: `metric ${m.why}` };
      route.metric = m.value;
    } else return { why: `unknown word "${kw}" (expected via, dev or metric)` };
  }
  if (action === 'add' && route.gateway === undefined && route.device === undefined) {
    return { why: 'a route needs "via GATEWAY" or "dev DEVICE" (on-link)' };
  }
  return { route };
}

function sameMatch(a: NicConfig['match'], b: NicConfig['match']): boolean {
  return a.kind === 'mac' && b.kind === 'mac' ? a.mac === b.mac : a.kind === 'name' && b.kind === 'name' && a.name === b.name;
}

/** Applies flags to a copy of `base`. Throws ContextError listing every bad flag value. */
export function applyContextFlags(base: Context, f: ContextFlags, file = '<command line>'): Context {
  const ctx: Context = structuredClone(base);
  const problems: Problem[] = [];
  const add = (key: string, value: string | undefined, why: string) => problems.push({ file, key, value, why });

  for (const [key, v] of [['--hostname', f.hostname], ['--instance-id', f.instanceId], ['--domain', f.domain]] as const) {
    if (v === undefined) continue;
    const c = checkLine(v);
    if (!c.ok || v.trim() === '') add(key, v, c.ok ? 'is empty' : c.why);
  }
  // Checked here with the context's own rules, so the error names the flag, not the generated file.
  if (f.hostname !== undefined) {
    const why = checkLine(f.hostname).ok && f.hostname.trim() !== '' ? whyNot(checkHostname(f.hostname)) : undefined;
    if (why) add('--hostname', f.hostname, why);
    ctx.hostname = f.hostname;
  }
  if (f.instanceId !== undefined) {
    const why = checkLine(f.instanceId).ok && f.instanceId.trim() !== '' ? whyNot(checkInstanceId(f.instanceId)) : undefined;
    if (why) add('--instance-id', f.instanceId, why);
    ctx.instanceId = f.instanceId;
  }
  if (f.domain !== undefined) {
    const why = whyNot(checkDomain(f.domain));
    if (why) add('--domain', f.domain, why);
    ctx.dns.domain = f.domain;
  }

  for (const spec of f.nic ?? []) {
    const eq = spec.indexOf('=');
    if (eq < 0) {
      add('--nic', spec, 'expected MAC=ADDRESS/PREFIX, MAC=dhcp or MAC=manual');
      continue;
    }
    const who = spec.slice(0, eq);
    const what = spec.slice(eq + 1);
    // The [nic "..."] label rule: a MAC is told from an interface name by its shape, so br-lan is a name.
    const label = checkNicLabel(who);
    if (!label.ok) {
      add('--nic', spec, label.why);
      continue;
    }
    const match = label.value;
    let nic = ctx.nics.find((n) => sameMatch(n.match, match));
    if (!nic) {
      nic = { match, method: 'static' };
      ctx.nics.push(nic);
    }
    if (what === 'dhcp' || what === 'manual') {
      nic.method = what;
      delete nic.ipv4;
      delete nic.ipv6;
      continue;
    }
    // The rule of context.ini's address/ipv6 keys, which is where this value ends up.
    const c = checkCidrText(what, undefined, false);
    if (!c.ok) {
      add('--nic', spec, `address ${what}: ${c.why}`);
      continue;
    }
    nic.method = 'static';
    if (familyOf(c.value.address) === 4) nic.ipv4 = { address: c.value };
    else nic.ipv6 = { address: c.value };
  }

  if (f.legacySubnet !== undefined) {
    const c = parseCidr(f.legacySubnet, { requireNetwork: true });
    if (!c.cidr || !parseIPv4(c.cidr.address)) add('--legacy-subnet', f.legacySubnet, c.why ?? 'the legacy rule is IPv4 only');
    else ctx.legacySubnet = { network: c.cidr };
  }

  if (f.gateway !== undefined) {
    const g4 = parseIPv4(f.gateway);
    const g6 = g4 ? undefined : parseIPv6(f.gateway);
    if (!g4 && !g6) add('--gateway', f.gateway, 'not an IPv4 or IPv6 address');
    else {
      let used = false;
      for (const nic of ctx.nics) {
        if (nic.method !== 'static') continue;
        if (g4 && nic.ipv4 && inSubnet(g4, nic.ipv4.address.address, nic.ipv4.address.prefix)) {
          nic.ipv4.gateway = g4;
          used = true;
        }
        if (g6 && nic.ipv6 && inSubnet6(g6, nic.ipv6.address.address, nic.ipv6.address.prefix)) {
          nic.ipv6.gateway = g6;
          used = true;
        }
      }
      const ls = ctx.legacySubnet;
      if (g4 && ls && inSubnet(g4, ls.network.address, ls.network.prefix)) {
        ls.gateway = g4;
        used = true;
      }
      if (!used) add('--gateway', f.gateway, 'not inside any static NIC subnet or the legacy subnet');
    }
  }

  if (f.dns !== undefined) {
    ctx.dns.nameservers = [];
    for (const d of f.dns) {
      const a = parseIPv4(d) ?? parseIPv6(d);
      if (!a) add('--dns', d, 'not an IPv4 or IPv6 address');
      else if (!ctx.dns.nameservers.includes(a)) ctx.dns.nameservers.push(a);
    }
  }
  // The model keeps the host's domain as the first search entry; separate the operator's own list.
  const oldDomain = base.dns.domain;
  let ownSearch = oldDomain !== undefined && base.dns.search[0] === oldDomain ? base.dns.search.slice(1) : [...base.dns.search];
  if (f.search !== undefined) {
    ownSearch = [];
    for (const s of f.search) {
      const why = whyNot(checkDomain(s));
      if (why) add('--search', s, why);
      else if (!ownSearch.includes(s)) ownSearch.push(s);
    }
  }
  const domain = ctx.dns.domain;
  ctx.dns.search = domain !== undefined ? [domain, ...ownSearch.filter((s) => s !== domain)] : ownSearch;

  for (const spec of f.route ?? []) {
    const r = parseRouteSpec(spec);
    if (!r.route) add('--route', spec, r.why!);
    else ctx.routes.push(r.route);
  }

  if (f.postInstall !== undefined) {
    if (f.postInstall.script.length === 0) add('--post-install', f.postInstall.source, 'script is empty');
    ctx.postInstall = {
      script: f.postInstall.script,
      mode: ctx.postInstall?.mode ?? 'per-instance',
      timeoutSec: ctx.postInstall?.timeoutSec ?? DEFAULT_POST_INSTALL_TIMEOUT_SEC,
    };
  }
  if (f.postInstallMode !== undefined) {
    const mode = checkPostInstallMode(f.postInstallMode);
    if (!mode.ok) add('--post-install-mode', f.postInstallMode, mode.why);
    else if (!ctx.postInstall) add('--post-install-mode', f.postInstallMode, 'no post-install script (give --post-install FILE)');
    else ctx.postInstall.mode = mode.value;
  }
  if (f.postInstallTimeout !== undefined) {
    const t = checkInt(f.postInstallTimeout, LIMITS.postInstallTimeoutSec.min, LIMITS.postInstallTimeoutSec.max, 'seconds');
    if (!t.ok) add('--post-install-timeout', f.postInstallTimeout, t.why);
    else if (!ctx.postInstall) add('--post-install-timeout', f.postInstallTimeout, 'no post-install script (give --post-install FILE)');
    else ctx.postInstall.timeoutSec = t.value;
  }

  for (const k of f.sshKeys ?? []) {
    // Never echo key file content in messages: a mistaken path may point at a private key.
    if (/PRIVATE KEY/.test(k.text)) {
      add('--ssh-key', k.source, 'this is a private key; give the public key (.pub) file');
      continue;
    }
    let found = 0;
    k.text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim() || line.trim().startsWith('#')) return;
      const r = checkAuthorizedKey(line);
      if (!r.ok) {
        add('--ssh-key', k.source, `line ${i + 1}: ${r.why}`);
        return;
      }
      found++;
      if (!ctx.authorizedKeys.includes(r.value)) ctx.authorizedKeys.push(r.value);
    });
    if (found === 0 && !problems.some((p) => p.value === k.source)) add('--ssh-key', k.source, 'no public key in file');
  }

  if (problems.length) throw new ContextError(problems);
  return ctx;
}

/**
 * Semantic checks on a Context model. The host tools call validateContext on models built from
 * flags; parseContext runs the same checks on what it parsed, with a Locator that points each
 * problem at the file and line the value came from.
 */
import type { Problem } from './errors.js';
import type { Context, NicConfig } from './model.js';
import { CONTEXT_PATHS } from './model.js';
import { LIMITS } from './limits.js';
import {
  checkCanonicalMac, checkCidr, checkDomain, checkHostname, checkIfname, checkInstanceId, checkIp, checkNicMethod, checkNumber,
  checkPostInstallMode, checkPostInstallScript, familyOf, whyNot,
} from './rules.js';
import { checkAuthorizedKey } from './authorized-keys.js';
import { matchLabel } from './ini-file.js';
import type { NetworkKey } from './network-file.js';
import { broadcastAddress, inSubnet, inSubnet6, isUsableHostAddress } from '../net/ip.js';

export interface Where {
  file: string;
  key?: string;
}

/** Where each part of a model lives on disk. */
export interface Locator {
  network(key: NetworkKey): Where;
  dns(field: 'nameservers' | 'search' | 'domain'): Where;
  context(key: 'version' | 'instance_id' | 'hostname' | 'post_install' | 'post_install_timeout'): Where;
  nic(index: number, key?: string): Where;
  route(index: number): Where;
  authorizedKey(index: number): Where;
  postInstall(): Where;
}

/** Locations for a model that never was a file: key names only. */
export function modelLocator(ctx: Context): Locator {
  const ext = CONTEXT_PATHS.extension;
  return {
    network: (key) => ({ file: CONTEXT_PATHS.network, key }),
    dns: (f) => ({ file: CONTEXT_PATHS.network, key: { nameservers: 'NAMESERVER', search: 'SEARCH', domain: 'DOMAIN' }[f] }),
    context: (key) => ({ file: ext, key: `context.${key}` }),
    nic: (i, key) => {
      const n = ctx.nics[i];
      const label = n ? `nic "${safeLabel(n)}"` : `nic #${i + 1}`;
      return { file: ext, key: key ? `${label}.${key}` : label };
    },
    route: (i) => ({ file: CONTEXT_PATHS.routes, key: `route ${i + 1}` }),
    authorizedKey: (i) => ({ file: CONTEXT_PATHS.authorizedKeys, key: `key ${i + 1}` }),
    postInstall: () => ({ file: CONTEXT_PATHS.postInstall }),
  };
}

function safeLabel(n: NicConfig): string {
  try {
    return matchLabel(n.match);
  } catch {
    return '?';
  }
}

export interface ValidateOptions {
  /**
   * Judge route gateways against the configured subnets. parseContext turns this off when a NIC or
   * the legacy subnet was already refused: its subnet is then missing and every route through it
   * would be reported a second time, wrongly.
   */
  reachability?: boolean;
}

export function validateContext(ctx: Context, loc: Locator = modelLocator(ctx), opts: ValidateOptions = {}): Problem[] {
  const out: Problem[] = [];
  const add = (w: Where, value: unknown, why: string) => {
    const p: Problem = { file: w.file, why };
    if (w.key !== undefined) p.key = w.key;
    if (value !== undefined) p.value = typeof value === 'string' ? value : JSON.stringify(value);
    out.push(p);
  };
  const check = (w: Where, value: unknown, why: string | undefined) => {
    if (why) add(w, value, why);
  };

  if (ctx.version !== 1) add(loc.context('version'), String(ctx.version), 'format version must be 1');
  if (ctx.instanceId !== undefined) check(loc.context('instance_id'), ctx.instanceId, whyNot(checkInstanceId(ctx.instanceId)));
  if (ctx.hostname !== undefined) check(loc.context('hostname'), ctx.hostname, whyNot(checkHostname(ctx.hostname)));

  // DNS
  const dns = ctx.dns;
  dns.nameservers.forEach((ns, i) => {
    check(loc.dns('nameservers'), ns, whyNot(checkIp(ns)) ?? (dns.nameservers.indexOf(ns) !== i ? 'listed twice' : undefined));
  });
  if (dns.nameservers.length > LIMITS.nameservers) add(loc.dns('nameservers'), undefined, `more than ${LIMITS.nameservers} name servers`);
  dns.search.forEach((d, i) => {
    check(loc.dns('search'), d, whyNot(checkDomain(d)) ?? (dns.search.indexOf(d) !== i ? 'listed twice' : undefined));
  });
  if (dns.search.length > LIMITS.searchDomains) add(loc.dns('search'), undefined, `more than ${LIMITS.searchDomains} search domains`);
  if (dns.domain !== undefined) {
    check(loc.dns('domain'), dns.domain, whyNot(checkDomain(dns.domain)));
    if (dns.search[0] !== dns.domain) add(loc.dns('search'), dns.search.join(' '), `the search list must start with the domain ${dns.domain}`);
  }

  // Legacy subnet
  const ls = ctx.legacySubnet;
  let legacyOk = false;
  if (ls) {
    const why = whyNot(checkCidr(ls.network, true)) ?? (familyOf(ls.network.address) !== 4 ? 'the legacy subnet is IPv4' : undefined)
      ?? whyNot(checkNumber(ls.network.prefix, LIMITS.legacyPrefix.min, LIMITS.legacyPrefix.max));
    check(loc.network('NETWORK'), `${ls.network.address}/${ls.network.prefix}`, why && `legacy subnet: ${why}`);
    legacyOk = !why;
    if (ls.gateway !== undefined) {
      const g = whyNot(checkIp(ls.gateway, 4));
      if (g) add(loc.network('GATEWAY'), ls.gateway, g);
      else if (legacyOk && !inSubnet(ls.gateway, ls.network.address, ls.network.prefix)) add(loc.network('GATEWAY'), ls.gateway, `not inside NETWORK/NETMASK ${ls.network.address}/${ls.network.prefix}`);
      else if (legacyOk && !isUsableHostAddress(ls.gateway, ls.network.prefix)) add(loc.network('GATEWAY'), ls.gateway, 'is the network or broadcast address');
    }
    if (ls.broadcast !== undefined && legacyOk) {
      const b = broadcastAddress(ls.network.address, ls.network.prefix);
      if (ls.broadcast !== b) add(loc.network('BROADCAST'), ls.broadcast, `does not match NETWORK/NETMASK (the broadcast is ${b})`);
    }
  }

  // NICs
  if (ctx.nics.length > LIMITS.nics) add(loc.nic(LIMITS.nics), undefined, `more than ${LIMITS.nics} NICs`);
  const seenMatch = new Map<string, number>();
  const seenAddress = new Map<string, number>();
  const subnets4: { address: string; prefix: number }[] = [];
  const subnets6: { address: string; prefix: number }[] = [];
  if (ls && legacyOk) subnets4.push(ls.network);
  // True when some NIC's subnet is not known here (DHCP, manual, or refused): routes are then not judged.
  let dynamic = ls !== undefined && !legacyOk;
  ctx.nics.forEach((nic, i) => {
    const m = nic.match;
    if (m.kind === 'mac') check(loc.nic(i), m.mac, whyNot(checkCanonicalMac(m.mac)));
    else if (m.kind === 'name') check(loc.nic(i), m.name, whyNot(checkIfname(m.name)));
    else add(loc.nic(i), undefined, 'a NIC is matched by mac or name');
    const id = `${m.kind}:${m.kind === 'mac' ? m.mac : m.name}`;
    const first = seenMatch.get(id);
    if (first !== undefined) add(loc.nic(i), undefined, `the same NIC is configured twice (also NIC #${first + 1})`);
    else seenMatch.set(id, i);
    const method = checkNicMethod(String(nic.method));
    if (!method.ok) {
      add(loc.nic(i, 'method'), String(nic.method), method.why);
      return;
    }
    if (nic.mtu !== undefined) check(loc.nic(i, 'mtu'), String(nic.mtu), whyNot(checkNumber(nic.mtu, LIMITS.mtu.min, LIMITS.mtu.max)));
    if (nic.method !== 'static') {
      dynamic = true;
      if (nic.ipv4) add(loc.nic(i, 'address'), undefined, `only valid with method = static (this NIC is ${nic.method})`);
      if (nic.ipv6) add(loc.nic(i, 'ipv6'), undefined, `only valid with method = static (this NIC is ${nic.method})`);
      return;
    }
    if (!nic.ipv4 && !nic.ipv6) add(loc.nic(i, 'method'), 'static', 'static needs an IPv4 and/or an IPv6 address');
    const v4 = nic.ipv4;
    if (v4) {
      const a = v4.address;
      const why = whyNot(checkCidr(a, false)) ?? (familyOf(a.address) !== 4 ? 'not an IPv4 address' : undefined)
        ?? (isUsableHostAddress(a.address, a.prefix) ? undefined : `is the network or broadcast address of its /${a.prefix}`);
      check(loc.nic(i, 'address'), `${a.address}/${a.prefix}`, why);
      if (why) dynamic = true; // its subnet is unknown: do not judge routes against the rest
      else {
        subnets4.push(a);
        const dup = seenAddress.get(a.address);
        if (dup !== undefined) add(loc.nic(i, 'address'), a.address, `also the address of NIC #${dup + 1}`);
        else seenAddress.set(a.address, i);
        if (v4.gateway !== undefined) {
          const g = whyNot(checkIp(v4.gateway, 4))
            ?? (inSubnet(v4.gateway, a.address, a.prefix) ? undefined : `not inside this NIC's subnet ${a.address}/${a.prefix}`)
            ?? (v4.gateway === a.address ? "is the NIC's own address" : undefined)
            ?? (isUsableHostAddress(v4.gateway, a.prefix) ? undefined : 'is the network or broadcast address');
          check(loc.nic(i, 'gateway'), v4.gateway, g);
        }
        if (v4.broadcast !== undefined) {
          const b = broadcastAddress(a.address, a.prefix);
          check(loc.nic(i, 'broadcast'), v4.broadcast, v4.broadcast === b ? undefined : `does not match the address (the broadcast of ${a.address}/${a.prefix} is ${b})`);
        }
      }
    }
    const v6 = nic.ipv6;
    if (v6) {
      const a = v6.address;
      const why = whyNot(checkCidr(a, false)) ?? (familyOf(a.address) !== 6 ? 'not an IPv6 address' : undefined);
      check(loc.nic(i, 'ipv6'), `${a.address}/${a.prefix}`, why);
      if (why) dynamic = true;
      else {
        subnets6.push(a);
        const dup = seenAddress.get(a.address);
        if (dup !== undefined) add(loc.nic(i, 'ipv6'), a.address, `also the address of NIC #${dup + 1}`);
        else seenAddress.set(a.address, i);
        if (v6.gateway !== undefined) {
          const g = whyNot(checkIp(v6.gateway, 6))
            ?? (isLinkLocal6(v6.gateway) || inSubnet6(v6.gateway, a.address, a.prefix) ? undefined : `neither link-local (fe80::/10) nor inside ${a.address}/${a.prefix}`)
            ?? (v6.gateway === a.address ? "is the NIC's own address" : undefined);
          check(loc.nic(i, 'ipv6_gateway'), v6.gateway, g);
        }
      }
    }
  });

  // Routes
  if (ctx.routes.length > LIMITS.routes) add(loc.route(LIMITS.routes), undefined, `more than ${LIMITS.routes} routes`);
  ctx.routes.forEach((r, i) => {
    const w = loc.route(i);
    const val = describeRoute(r);
    if (r.action !== 'add' && r.action !== 'delete') return add(w, val, 'action must be add or delete');
    const d = whyNot(checkCidr(r.destination, true));
    if (d) return add(w, val, `destination: ${d}`);
    const fam = familyOf(r.destination.address)!;
    if (r.gateway !== undefined) {
      const g = whyNot(checkIp(r.gateway, fam));
      if (g) return add(w, val, `gateway: ${g}`);
    }
    if (r.device !== undefined) {
      const dv = whyNot(checkIfname(r.device));
      if (dv) return add(w, val, `device: ${dv}`);
    }
    if (r.metric !== undefined) {
      const m = whyNot(checkNumber(r.metric, LIMITS.metric.min, LIMITS.metric.max));
      check(w, val, m && `metric ${m}`);
    }
    if (r.action === 'add' && r.gateway === undefined && r.device === undefined) return add(w, val, 'an added route needs a gateway or a device');
    // Reachability: only where every address is known here (no DHCP NIC whose subnet comes later).
    if (r.action === 'add' && r.gateway !== undefined && !dynamic && opts.reachability !== false) {
      const g = r.gateway;
      if (fam === 4 && subnets4.length > 0 && !subnets4.some((s) => inSubnet(g, s.address, s.prefix))) {
        add(w, val, `gateway ${g} is not inside any configured subnet (${subnets4.map((s) => `${s.address}/${s.prefix}`).join(', ')}): it would be unreachable`);
      }
      if (fam === 6 && subnets6.length > 0 && !isLinkLocal6(g) && !subnets6.some((s) => inSubnet6(g, s.address, s.prefix))) {
        add(w, val, `gateway ${g} is neither link-local nor inside any configured IPv6 subnet: it would be unreachable`);
      }
    }
    return undefined;
  });

  // post-install
  const pi = ctx.postInstall;
  if (pi) {
    check(loc.postInstall(), undefined, whyNot(checkPostInstallScript(pi.script)));
    check(loc.context('post_install'), String(pi.mode), whyNot(checkPostInstallMode(String(pi.mode))));
    check(loc.context('post_install_timeout'), String(pi.timeoutSec),
      whyNot(checkNumber(pi.timeoutSec, LIMITS.postInstallTimeoutSec.min, LIMITS.postInstallTimeoutSec.max)));
  }

  // authorized keys
  if (ctx.authorizedKeys.length > LIMITS.authorizedKeys) add(loc.authorizedKey(LIMITS.authorizedKeys), undefined, `more than ${LIMITS.authorizedKeys} keys`);
  ctx.authorizedKeys.forEach((k, i) => {
    const r = checkAuthorizedKey(k);
    if (!r.ok) add(loc.authorizedKey(i), k, r.why);
    else if (r.value !== k) add(loc.authorizedKey(i), k, `not in canonical form (write "${r.value}")`);
  });
  return out;
}

export function isLinkLocal6(a: string): boolean {
  return familyOf(a) === 6 && inSubnet6(a, 'fe80::', 10);
}

function describeRoute(r: Context['routes'][number]): string {
  const parts = [r.action, `${r.destination?.address}/${r.destination?.prefix}`];
  if (r.gateway !== undefined) parts.push(`via ${r.gateway}`);
  if (r.device !== undefined) parts.push(`dev ${r.device}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  return parts.join(' ');
}

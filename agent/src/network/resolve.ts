/**
 * Context model + the guest's NICs -> NetworkConfig (what every renderer takes). Pure: no I/O.
 *
 * Order of rules:
 *  1. Explicit NIC entries (context.ini), matched by MAC or kernel name. Interfaces are never renamed.
 *  2. The Snooze rule for every other NIC: the MAC's last four bytes as IPv4, used only when it is a
 *     host address of the context's NETWORK/NETMASK (a random MAC must never yield an address) and not
 *     the gateway, the broadcast, a route's gateway or a nameserver.
 *  3. Primary NIC: the first legacy-matched NIC, else the first static entry, else the first entry.
 *     It is the one Snooze calls "eth0" in routes and the only legacy NIC that gets the gateway.
 *  4. Routes: `del default` = no default route anywhere; a deletion of a route the context also adds
 *     cancels both; other deletions become deleteRoutes; each route goes to the named device when it is
 *     configured, else to the NIC whose subnet holds the gateway, else to the primary.
 *
 * A NIC named in the context but absent from the guest is an error (NicNotFoundError), as in cloud-init
 * ("Unable to find a system nic"): the context was generated for this VM's MACs, so an absent one means
 * the device has not appeared yet (udev/driver race: the caller may settle and retry once) or the CD
 * belongs to another VM. Configuring the rest silently would leave a VM reachable on the wrong NIC or
 * not at all with nothing in the log that says why.
 */
import { CONTEXT_PATHS, type Cidr, type Context, type NicConfig, type Route } from '../../../lib/context/model.js';
import { ContextError, Problems, type Problem } from '../../../lib/context/errors.js';
import { checkIfname } from '../../../lib/context/rules.js';
import {
  broadcastAddress,
  inSubnet,
  inSubnet6,
  isUsableHostAddress,
  macToIPv4,
  networkAddress,
} from '../../../lib/net/ip.js';
import type { NetworkConfig, ResolvedNic, ResolvedRoute, SystemNic } from '../types/network.js';
import { info, warn, type Note } from '../types/plan.js';

/** The context names a NIC the guest does not have. Distinct so the caller can wait for udev and retry. */
export class NicNotFoundError extends ContextError {
  constructor(problems: Problem[]) {
    super(problems);
    this.name = 'NicNotFoundError';
  }
}

export interface ResolvedNetwork {
  config: NetworkConfig;
  notes: Note[];
}

/**
 * Interface names the renderers can put in file names and config lines without quoting: the catalog's
 * interface-name rule (the one contextgen checks --nic and --route dev with). The kernel allows almost
 * anything (IFNAMSIZ 16, no '/', no whitespace); udev never produces more than this.
 */
const isSafeIfname = (name: string): boolean => checkIfname(name).ok;

const isV6 = (address: string): boolean => address.includes(':');
const isDefault = (c: Cidr): boolean => c.prefix === 0;

export function cidrText(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

function routeText(r: Route): string {
  const dest = isDefault(r.destination) ? 'default' : cidrText(r.destination);
  return [dest, r.gateway ? `via ${r.gateway}` : '', r.device ? `dev ${r.device}` : ''].filter(Boolean).join(' ');
}

function matchText(cfg: NicConfig): string {
  return cfg.match.kind === 'mac' ? cfg.match.mac : cfg.match.name;
}

function fromExplicit(cfg: NicConfig, nic: SystemNic, label: string, notes: Note[]): ResolvedNic {
  const out: ResolvedNic = { name: nic.name, mac: nic.mac, method: cfg.method, routes: [], deleteRoutes: [], primary: false };
  if (cfg.method === 'static' && cfg.ipv4) {
    const { address, gateway, broadcast } = cfg.ipv4;
    out.ipv4 = { address, broadcast: broadcast ?? broadcastAddress(address.address, address.prefix) };
    if (gateway) out.ipv4.gateway = gateway;
  } else if (cfg.ipv4) {
    notes.push(warn(`${label} (${nic.name}): method ${cfg.method} ignores its IPv4 address ${cidrText(cfg.ipv4.address)}`, nic.name));
  }
  if (cfg.ipv6) {
    if (cfg.method === 'manual') notes.push(warn(`${label} (${nic.name}): method manual ignores its IPv6 address`, nic.name));
    else out.ipv6 = cfg.ipv6.gateway ? { address: cfg.ipv6.address, gateway: cfg.ipv6.gateway } : { address: cfg.ipv6.address };
  }
  if (cfg.method === 'static' && !out.ipv4 && !out.ipv6) {
    notes.push(info(`${label} (${nic.name}): static with no address: the link is only brought up`, nic.name));
  }
  if (cfg.mtu !== undefined) out.mtu = cfg.mtu;
  return out;
}

function holdsGateway(nic: ResolvedNic, gateway: string): boolean {
  if (isV6(gateway)) return nic.ipv6 !== undefined && inSubnet6(gateway, nic.ipv6.address.address, nic.ipv6.address.prefix);
  if (!nic.ipv4) return false;
  const { address, prefix } = nic.ipv4.address;
  return inSubnet(gateway, networkAddress(address, prefix), prefix);
}

function sameDestination(a: Cidr, b: Cidr): boolean {
  return a.address === b.address && a.prefix === b.prefix;
}

export function resolveNetwork(ctx: Context, nics: SystemNic[]): ResolvedNetwork {
  const notes: Note[] = [];
  /** Each finding once; `warn` unless said otherwise (see Note for the levels). */
  const note = (text: string, level: Note['level'] = 'warn', about?: string): void => {
    if (!notes.some((n) => n.text === text)) notes.push(level === 'info' ? info(text, about) : warn(text, about));
  };

  const usable = nics.filter((n) => {
    if (isSafeIfname(n.name)) return true;
    note(`interface ${JSON.stringify(n.name)} (${n.mac}) has a name no backend can write safely; left alone`);
    return false;
  });

  // 1. Explicit entries.
  const file = CONTEXT_PATHS.extension;
  const missing = new Problems();
  const invalid = new Problems();
  const explicit = new Map<string, { cfg: NicConfig; label: string }>(); // by kernel name
  const present = usable.map((n) => `${n.name} ${n.mac}`).join(', ') || 'none';
  ctx.nics.forEach((cfg, i) => {
    const label = `nic ${i + 1}`;
    const m = cfg.match;
    const nic = m.kind === 'mac' ? usable.find((n) => n.mac === m.mac) : usable.find((n) => n.name === m.name);
    if (!nic) {
      missing.add(file, label, matchText(cfg), `no network interface with this ${m.kind === 'mac' ? 'MAC' : 'name'} in the guest (present: ${present})`);
      return;
    }
    const earlier = explicit.get(nic.name);
    if (earlier) {
      invalid.add(file, label, matchText(cfg), `interface ${nic.name} is already configured by ${earlier.label}`);
      return;
    }
    explicit.set(nic.name, { cfg, label });
  });
  invalid.throwIfAny();
  if (!missing.empty) throw new NicNotFoundError(missing.list);

  const byName = new Map<string, ResolvedNic>();
  for (const nic of usable) {
    const e = explicit.get(nic.name);
    if (e) byName.set(nic.name, fromExplicit(e.cfg, nic, e.label, notes));
  }

  // 2. The Snooze MAC rule for NICs not configured explicitly.
  const legacy: ResolvedNic[] = [];
  const legacySubnet = ctx.legacySubnet;
  const takenAddresses = new Set([...byName.values()].flatMap((n) => (n.ipv4 ? [n.ipv4.address.address] : [])));
  for (const nic of usable) {
    if (explicit.has(nic.name)) continue;
    if (!legacySubnet) {
      note(`${nic.name} (${nic.mac}) is not in the context; left alone`, 'info', nic.name);
      continue;
    }
    const { address: net, prefix } = legacySubnet.network;
    const derived = macToIPv4(nic.mac);
    if (!inSubnet(derived, net, prefix) || !isUsableHostAddress(derived, prefix)) {
      note(`${nic.name} (${nic.mac}): MAC-derived ${derived} is not a host address of ${cidrText(legacySubnet.network)}; left alone`);
      continue;
    }
    const role = reservedRole(derived, ctx, legacySubnet.network);
    if (role) {
      // A NIC holding the gateway's (or a resolver's) address breaks the whole subnet; Snooze's rule has no such case.
      note(`${nic.name} (${nic.mac}): MAC-derived ${derived} is ${role}; left alone`);
      continue;
    }
    if (takenAddresses.has(derived)) {
      note(`${nic.name} (${nic.mac}): MAC-derived ${derived} is already given to another NIC by the context; left alone`);
      continue;
    }
    takenAddresses.add(derived);
    const resolved: ResolvedNic = {
      name: nic.name,
      mac: nic.mac,
      method: 'static',
      ipv4: { address: { address: derived, prefix }, broadcast: legacySubnet.broadcast ?? broadcastAddress(derived, prefix) },
      routes: [],
      deleteRoutes: [],
      primary: false,
    };
    legacy.push(resolved);
    byName.set(nic.name, resolved);
  }

  // 3. Primary.
  const explicitOrder = ctx.nics.map((cfg) => [...byName.values()].find((n) => explicit.get(n.name)?.cfg === cfg)!);
  const primary = legacy[0] ?? explicitOrder.find((n) => n.method === 'static') ?? explicitOrder[0];
  if (primary) primary.primary = true;
  if (legacy[0] && legacySubnet?.gateway) {
    legacy[0].ipv4!.gateway = legacySubnet.gateway;
    for (const other of legacy.slice(1)) {
      note(`${other.name} also matches the MAC rule (${other.ipv4!.address.address}); only the primary ${legacy[0].name} gets the default gateway`, 'info', other.name);
    }
  }

  // 4. Routes.
  const configured = [...byName.values()];
  const systemNames = new Set(nics.map((n) => n.name));
  const attach = (r: Route): ResolvedNic | undefined => {
    if (r.device !== undefined) {
      const named = byName.get(r.device);
      if (named) return named;
      if (systemNames.has(r.device)) {
        note(`route ${routeText(r)}: ${r.device} is not configured by the context; route skipped`);
        return undefined;
      }
    }
    const bySubnet = r.gateway ? configured.find((n) => holdsGateway(n, r.gateway!)) : undefined;
    const target = bySubnet ?? primary;
    if (!target) {
      note(`route ${routeText(r)}: no configured NIC to carry it; route skipped`);
      return undefined;
    }
    if (r.device !== undefined) note(`route device ${r.device} does not exist here; ${routeText(r)} goes to ${target.name}`, 'info', target.name);
    else if (!bySubnet) note(`route ${routeText(r)}: no NIC holds the gateway's subnet; it goes to the primary ${target.name}`);
    return target;
  };

  const adds = ctx.routes.filter((r) => r.action === 'add');
  const deletes = ctx.routes.filter((r) => r.action === 'delete');
  const cancelled = new Set<Route>();
  const noDefault = { v4: false, v6: false };
  for (const d of deletes) {
    const matching = adds.filter((a) => sameDestination(a.destination, d.destination) && (!d.gateway || d.gateway === a.gateway));
    for (const a of matching) {
      cancelled.add(a);
      note(`route ${routeText(a)} is both added and deleted by the context; not configured`);
    }
    if (isDefault(d.destination)) {
      noDefault[isV6(d.destination.address) ? 'v6' : 'v4'] = true;
      continue;
    }
    if (matching.length > 0) continue;
    const target = attach(d);
    if (target) target.deleteRoutes.push(resolvedRoute(d));
  }

  for (const a of adds) {
    if (cancelled.has(a)) continue;
    const target = attach(a);
    if (!target) continue;
    if (!isDefault(a.destination)) {
      const r = resolvedRoute(a);
      const dup = target.routes.some((x) => sameDestination(x.destination, r.destination) && x.gateway === r.gateway && x.metric === r.metric);
      if (!dup) target.routes.push(r);
      continue;
    }
    // A default route is the NIC's gateway (the contract keeps it out of `routes`).
    const v6 = isV6(a.destination.address);
    const family = v6 ? target.ipv6 : target.ipv4;
    if (!a.gateway || !family) {
      note(`route ${routeText(a)}: ${target.name} has no static ${v6 ? 'IPv6' : 'IPv4'} address to hang a default gateway on; route skipped`);
      continue;
    }
    if (a.metric !== undefined) note(`route ${routeText(a)}: the metric of a default route is not kept`);
    if (family.gateway && family.gateway !== a.gateway) {
      note(`route ${routeText(a)} replaces gateway ${family.gateway} on ${target.name}`, 'info', target.name);
    }
    // One default route from the context: it displaces the primary's gateway when it lands elsewhere.
    const displaced = configured.find((o) => o !== target && o.primary && (v6 ? o.ipv6 : o.ipv4)?.gateway);
    if (displaced) {
      note(`route ${routeText(a)} moves the default gateway from ${displaced.name} to ${target.name}`, 'info', target.name);
      delete (v6 ? displaced.ipv6 : displaced.ipv4)!.gateway;
    }
    family.gateway = a.gateway;
  }

  if (noDefault.v4 || noDefault.v6) {
    for (const n of configured) {
      if (noDefault.v4) {
        if (n.ipv4?.gateway) note(`del default: gateway ${n.ipv4.gateway} of ${n.name} dropped`, 'info', n.name);
        if (n.ipv4) delete n.ipv4.gateway;
        n.neverDefault = true;
      }
      if (noDefault.v6 && n.ipv6?.gateway) {
        note(`del default: IPv6 gateway ${n.ipv6.gateway} of ${n.name} dropped`, 'info', n.name);
        delete n.ipv6.gateway;
      }
    }
    if (noDefault.v4) note('del default: no IPv4 default route on any NIC (DHCP-learnt ones included)', 'info');
  }

  for (const n of configured) {
    if (!n.ipv4 || !n.ipv4.gateway) continue;
    if (!holdsGateway(n, n.ipv4.gateway)) note(`${n.name}: gateway ${n.ipv4.gateway} is outside ${cidrText(n.ipv4.address)}`);
  }
  // One default route per family: two `gateway` lines make the second ifup fail ("File exists") and leave
  // the kernel choosing between two defaults. Keep the primary's (else the first NIC's), drop the rest loudly.
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const withGw = configured.filter((n) => n[fam]?.gateway);
    if (withGw.length < 2) continue;
    const keep = withGw.find((n) => n.primary) ?? withGw[0]!;
    for (const n of withGw) {
      if (n === keep) continue;
      note(`${n.name}: ${fam === 'ipv4' ? 'IPv4' : 'IPv6'} gateway ${n[fam]!.gateway} dropped: one default route only, kept on ${keep.name} via ${keep[fam]!.gateway}`);
      delete n[fam]!.gateway;
    }
  }
  if (configured.length === 0) note('no NIC is configured by the context');

  const ordered = usable.flatMap((n) => {
    const r = byName.get(n.name);
    return r ? [r] : [];
  });
  return { config: { nics: ordered, dns: ctx.dns }, notes };
}

/**
 * What `address` already is in the context, if anything a NIC must never take: the gateway, a route's
 * gateway, the context's broadcast, a nameserver. (The network and derived broadcast addresses are
 * caught earlier as non-host addresses.)
 */
function reservedRole(address: string, ctx: Context, network: Cidr): string | undefined {
  const subnet = cidrText(network);
  if (ctx.legacySubnet?.gateway === address) return `the gateway of ${subnet}`;
  if (ctx.legacySubnet?.broadcast === address) return `the broadcast address of ${subnet}`;
  if (ctx.dns.nameservers.includes(address)) return 'a nameserver of the context';
  if (ctx.routes.some((r) => r.gateway === address)) return 'the gateway of a route in the context';
  return undefined;
}

function resolvedRoute(r: Route): ResolvedRoute {
  const out: ResolvedRoute = { destination: r.destination };
  if (r.gateway) out.gateway = r.gateway;
  if (r.metric !== undefined) out.metric = r.metric;
  return out;
}

/**
 * RHEL-family network-scripts (also read by NetworkManager's ifcfg-rh plugin): ifcfg-<name>,
 * route-<name> (IPv4, ADDRESSn/NETMASKn/GATEWAYn) and route6-<name> (IPv6, `ip route` argument lines).
 *
 * These names are shared with the user's own files, so a file is ours only when it carries MARKER
 * (see isOwnedIfcfg); the planner must neither overwrite nor remove the others.
 * The files are sourced by a shell (network-scripts), so every value is double-quoted and any character
 * a shell would expand inside double quotes is refused.
 */
import { netmaskFromPrefix } from '../../../../lib/net/ip.js';
import type { NetworkConfig, NetworkRenderer, RenderResult, ResolvedNic, SystemView } from '../../types/network.js';
import { warn, type Note } from '../../types/plan.js';
import {
  HEADER,
  MARKER,
  Writer,
  broadcastNotes,
  cidr,
  deleteRouteNotes,
  dnsCarrier,
  file,
  liveVia,
  nameserversOf,
  routesOf,
} from './common.js';

/** network-scripts' own unit (the SysV `network` script): it runs ifup for every ONBOOT=yes file at boot. */
export const IFCFG_UNIT = 'network.service';
const DIR = '/etc/sysconfig/network-scripts';
const SHELL_UNSAFE = /["$`\\]/;

/** Whether an ifcfg-/route- file was written by us (its MARKER line), i.e. may be replaced or removed. */
export function isOwnedIfcfg(content: string): boolean {
  return content.split('\n').some((line) => line.startsWith(MARKER));
}

export function ifcfgPaths(name: string): { ifcfg: string; route: string; route6: string } {
  return { ifcfg: `${DIR}/ifcfg-${name}`, route: `${DIR}/route-${name}`, route6: `${DIR}/route6-${name}` };
}

function assignments(w: Writer, pairs: [string, string | number | undefined][]): string[] {
  return pairs.flatMap(([k, v]) =>
    v === undefined ? [] : [`${k}="${w.strict(k, String(v), SHELL_UNSAFE, 'contains a shell quote or expansion character')}"`],
  );
}

function renderIfcfg(net: NetworkConfig, nic: ResolvedNic, notes: Note[]): string {
  const w = new Writer(ifcfgPaths(nic.name).ifcfg);
  const pairs: [string, string | number | undefined][] = [
    ['DEVICE', w.ifname(nic.name)],
    ['HWADDR', nic.mac],
    ['TYPE', 'Ethernet'],
    ['ONBOOT', 'yes'],
    ['BOOTPROTO', nic.method === 'dhcp' ? 'dhcp' : 'none'],
  ];
  if (nic.ipv4) {
    pairs.push(['IPADDR', nic.ipv4.address.address], ['PREFIX', nic.ipv4.address.prefix], ['GATEWAY', nic.ipv4.gateway]);
  }
  // DEFROUTE=no also stops a GATEWAY in /etc/sysconfig/network and a DHCP router from becoming the default.
  if (nic.neverDefault) pairs.push(['DEFROUTE', 'no']);
  if (nic.mtu !== undefined) pairs.push(['MTU', nic.mtu]);
  if (nic.ipv6) {
    pairs.push(['IPV6INIT', 'yes'], ['IPV6_AUTOCONF', 'no'], ['IPV6ADDR', cidr(nic.ipv6.address)], ['IPV6_DEFAULTGW', nic.ipv6.gateway]);
  }
  if (nic === dnsCarrier(net) && nic.method !== 'manual') {
    const servers = [...nameserversOf(net, 4), ...nameserversOf(net, 6)];
    servers.forEach((s, i) => pairs.push([`DNS${i + 1}`, s]));
    if (net.dns.search.length > 0) pairs.push(['DOMAIN', net.dns.search.join(' ')]);
    // Keep the DHCP server's resolvers from replacing the context's.
    if (nic.method === 'dhcp' && servers.length > 0) pairs.push(['PEERDNS', 'no']);
  }
  notes.push(...deleteRouteNotes('ifcfg', nic), ...broadcastNotes('ifcfg', nic));
  return `${[HEADER, ...assignments(w, pairs)].join('\n')}\n`;
}

function renderRoutes(nic: ResolvedNic): string | undefined {
  const routes = routesOf(nic, 4);
  if (routes.length === 0) return undefined;
  const w = new Writer(ifcfgPaths(nic.name).route);
  const pairs: [string, string | number | undefined][] = routes.flatMap((r, i) => [
    [`ADDRESS${i}`, r.destination.address],
    [`NETMASK${i}`, netmaskFromPrefix(r.destination.prefix)],
    [`GATEWAY${i}`, r.gateway],
    [`METRIC${i}`, r.metric],
  ] as [string, string | number | undefined][]);
  return `${[HEADER, ...assignments(w, pairs)].join('\n')}\n`;
}

function renderRoutes6(nic: ResolvedNic): string | undefined {
  const routes = routesOf(nic, 6);
  if (routes.length === 0) return undefined;
  const w = new Writer(ifcfgPaths(nic.name).route6);
  // route6-X has no key=value form: each line is `ip -6 route add` arguments.
  const lines = routes.map((r) => {
    const parts = [w.value('route', cidr(r.destination))];
    if (r.gateway) parts.push('via', w.value('route.gateway', r.gateway));
    parts.push('dev', w.ifname(nic.name));
    if (r.metric !== undefined) parts.push('metric', w.value('route.metric', r.metric));
    return parts.join(' ');
  });
  return `${[HEADER, ...lines].join('\n')}\n`;
}

export const ifcfg: NetworkRenderer = {
  name: 'ifcfg',
  owned: [
    { dir: DIR, prefix: 'ifcfg-', marker: MARKER },
    { dir: DIR, prefix: 'route-', marker: MARKER },
    { dir: DIR, prefix: 'route6-', marker: MARKER },
  ],
  detect(sys: SystemView): boolean {
    return sys.exists(DIR);
  },
  inspect(sys: SystemView, net: NetworkConfig): Note[] {
    const notes: Note[] = [];
    for (const nic of net.nics) {
      for (const path of Object.values(ifcfgPaths(nic.name))) {
        const content = sys.readFile(path);
        if (content !== undefined && !isOwnedIfcfg(content)) {
          notes.push(warn(`ifcfg: ${path} exists and is not managed by contextualization; it must not be overwritten`, path));
        }
      }
    }
    return notes;
  },
  render(net: NetworkConfig): RenderResult {
    const notes: Note[] = [];
    const files = net.nics.flatMap((nic) => {
      const p = ifcfgPaths(nic.name);
      const out = [file(p.ifcfg, renderIfcfg(net, nic, notes), 0o644, `network-scripts config for ${nic.name} (${nic.mac})`)];
      const routes = renderRoutes(nic);
      if (routes) out.push(file(p.route, routes, 0o644, `IPv4 routes via ${nic.name}`));
      const routes6 = renderRoutes6(nic);
      if (routes6) out.push(file(p.route6, routes6, 0o644, `IPv6 routes via ${nic.name}`));
      return out;
    });
    const commands = net.nics.flatMap((nic) => [
      liveVia(IFCFG_UNIT, ['ifdown', nic.name], `take ${nic.name} down before re-reading its config`, 30_000),
      liveVia(IFCFG_UNIT, ['ifup', nic.name], `bring ${nic.name} up with the new config`, 60_000),
    ]);
    return { files, commands, notes };
  },
};

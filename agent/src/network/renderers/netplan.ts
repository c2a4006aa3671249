/**
 * netplan: one YAML file for all NICs, emitted by hand (no YAML library needed for this fixed shape).
 * Every string scalar is written as a JSON string, which is a valid YAML double-quoted scalar, so a
 * value can never open a new key or a flow collection. Numbers and booleans are ours, never the context's.
 *
 * netplan merges files in lexical order and merges keys of the same device: `dhcp4: false` is written
 * explicitly so a distribution's 50-cloud-init.yaml `dhcp4: true` for the same id cannot survive.
 * The renderer is set per device, never globally: a global `renderer:` would take every other device
 * away from NetworkManager on desktop images.
 */
import type { NetworkConfig, NetworkRenderer, RenderResult, ResolvedNic, SystemView } from '../../types/network.js';
import { info, warn, type Note } from '../../types/plan.js';
import { HEADER, Writer, broadcastNotes, cidr, deleteRouteNotes, dnsCarrier, file, live, liveVia } from './common.js';
import { NETWORKD_UNIT } from './networkd.js';

export const NETPLAN_PATH = '/etc/netplan/60-contextualization.yaml';

const NETPLAN_BINARIES = ['/usr/sbin/netplan', '/sbin/netplan', '/usr/bin/netplan'];

function renderNic(net: NetworkConfig, nic: ResolvedNic, w: Writer, notes: Note[]): string[] {
  const q = (key: string, v: string): string => JSON.stringify(w.value(`${nic.name}.${key}`, v));
  const out: string[] = [`    ${q('id', w.ifname(nic.name))}:`];
  const add = (indent: number, line: string): void => {
    out.push(`${' '.repeat(indent)}${line}`);
  };
  add(6, `renderer: "networkd"`);
  add(6, 'match:');
  add(8, `macaddress: ${q('mac', nic.mac)}`);
  add(6, `dhcp4: ${nic.method === 'dhcp'}`);
  add(6, 'dhcp6: false');
  if (nic.method === 'manual') add(6, 'link-local: []');
  if (nic.neverDefault && nic.method === 'dhcp') {
    add(6, 'dhcp4-overrides:');
    add(8, 'use-routes: false');
    notes.push(warn(`netplan: no DHCP default route on ${nic.name} also drops the other DHCP-learnt routes (netplan has no use-gateway)`, nic.name));
  }
  const addresses = [nic.ipv4?.address, nic.ipv6?.address].flatMap((a) => (a ? [q('address', cidr(a))] : []));
  if (addresses.length > 0) {
    add(6, 'addresses:');
    for (const a of addresses) add(8, `- ${a}`);
  }
  // "0.0.0.0/0" rather than "default": netplan before 0.103 (Ubuntu 18.04/20.04) knows only the former.
  const routes = [
    ...(nic.ipv4?.gateway ? [{ to: '0.0.0.0/0', via: nic.ipv4.gateway, metric: undefined }] : []),
    ...(nic.ipv6?.gateway ? [{ to: '::/0', via: nic.ipv6.gateway, metric: undefined }] : []),
    ...nic.routes.map((r) => ({ to: cidr(r.destination), via: r.gateway, metric: r.metric })),
  ];
  if (routes.length > 0) {
    add(6, 'routes:');
    for (const r of routes) {
      add(8, `- to: ${q('route', r.to)}`);
      // Without `via` netplan wants an explicit link scope (it refuses a global unicast route with no via).
      if (r.via) add(10, `via: ${q('route.via', r.via)}`);
      else add(10, 'scope: "link"');
      if (r.metric !== undefined) add(10, `metric: ${w.value('route.metric', r.metric)}`);
    }
  }
  if (nic === dnsCarrier(net) && nic.method !== 'manual' && (net.dns.nameservers.length > 0 || net.dns.search.length > 0)) {
    add(6, 'nameservers:');
    if (net.dns.nameservers.length > 0) {
      add(8, 'addresses:');
      for (const ns of net.dns.nameservers) add(10, `- ${q('dns', ns)}`);
    }
    if (net.dns.search.length > 0) {
      add(8, 'search:');
      for (const d of net.dns.search) add(10, `- ${q('search', d)}`);
    }
  }
  if (nic.mtu !== undefined) add(6, `mtu: ${w.value('mtu', nic.mtu)}`);
  notes.push(...deleteRouteNotes('netplan', nic), ...broadcastNotes('netplan', nic));
  return out;
}

export const netplan: NetworkRenderer = {
  name: 'netplan',
  owned: [{ dir: '/etc/netplan', prefix: '60-contextualization' }],
  detect(sys: SystemView): boolean {
    return sys.exists('/etc/netplan') && NETPLAN_BINARIES.some((b) => sys.exists(b));
  },
  render(net: NetworkConfig): RenderResult {
    if (net.nics.length === 0) return { files: [], commands: [], notes: [info('netplan: no NIC to configure')] };
    const notes: Note[] = [];
    const w = new Writer(NETPLAN_PATH);
    const lines = [HEADER, 'network:', '  version: 2', '  ethernets:'];
    for (const nic of net.nics) lines.push(...renderNic(net, nic, w, notes));
    return {
      // 0600: netplan warns about (and newer versions refuse to ignore) world-readable configs.
      files: [file(NETPLAN_PATH, `${lines.join('\n')}\n`, 0o600, `netplan config for ${net.nics.map((n) => n.name).join(', ')}`)],
      commands: [
        // The netplan generator ran at boot before this file existed: without this networkd would start on the old output.
        // `generate` only writes /run/systemd/network (it applies nothing), so it is safe before the service starts.
        live(['netplan', 'generate'], 'turn the netplan config into networkd files before networkd starts', false, 60_000),
        liveVia(NETWORKD_UNIT, ['netplan', 'apply'], 'apply it now (networkd already runs)', 60_000),
      ],
      notes,
    };
  },
};

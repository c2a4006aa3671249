/**
 * NetworkManager keyfile: one connection profile per NIC, bound by MAC (mac-address=), never by name.
 * The uuid is derived from the MAC (RFC 4122 version 5), so a re-render replaces the same profile
 * instead of piling up duplicates.
 */
import { createHash } from 'node:crypto';
import type { NetworkConfig, NetworkRenderer, RenderResult, ResolvedNic, SystemView } from '../../types/network.js';
import type { Note } from '../../types/plan.js';
import {
  HEADER,
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

export const NM_UNIT = 'NetworkManager.service';
/** Our conf.d drop-in (no auto-default profile for our NICs): late in conf.d order, and it only appends. */
export const NM_CONF_PATH = '/etc/NetworkManager/conf.d/99-contextualization.conf';
const DIR = '/etc/NetworkManager/system-connections';
const PREFIX = 'contextualization-';
/** Fixed namespace for our name-based UUIDs (random once, never change: it would orphan profiles). */
const UUID_NAMESPACE = 'a3c5e0d2-5b1f-4c71-9a8e-2f64d1b7c930';

/** RFC 4122 version-5 UUID of `name` in our namespace. */
export function uuidV5(name: string): string {
  const ns = Buffer.from(UUID_NAMESPACE.replaceAll('-', ''), 'hex');
  const h = createHash('sha1').update(ns).update(name).digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function connectionId(nic: ResolvedNic): string {
  return `${PREFIX}${nic.name}`;
}

export function connectionUuid(nic: ResolvedNic): string {
  return uuidV5(`nic:${nic.mac}`);
}

export function nmPath(nic: ResolvedNic): string {
  return `${DIR}/${connectionId(nic)}.nmconnection`;
}

/** GKeyFile lists end with ';'; a ';' or '\' inside an element would split or escape it. */
const LIST_UNSAFE = /[;\\]/;

function renderNic(net: NetworkConfig, nic: ResolvedNic, notes: Note[]): string {
  const w = new Writer(nmPath(nic));
  w.ifname(nic.name);
  const list = (key: string, values: string[]): string =>
    `${values.map((v) => w.strict(key, v, LIST_UNSAFE, "contains ';' or '\\'")).join(';')};`;
  const carriesDns = nic === dnsCarrier(net);

  const lines = [
    HEADER,
    '',
    '[connection]',
    `id=${connectionId(nic)}`,
    `uuid=${connectionUuid(nic)}`,
    'type=ethernet',
    'autoconnect=true',
    // Above NM's auto "Wired connection N" and other default-priority profiles for the same device.
    'autoconnect-priority=50',
    '',
    '[ethernet]',
    `mac-address=${w.value('mac', nic.mac.toUpperCase())}`,
  ];
  if (nic.mtu !== undefined) lines.push(`mtu=${w.value('mtu', nic.mtu)}`);

  lines.push('', '[ipv4]');
  if (nic.method === 'dhcp') lines.push('method=auto');
  else if (nic.ipv4) {
    const gw = nic.ipv4.gateway ? `,${w.value('ipv4.gateway', nic.ipv4.gateway)}` : '';
    lines.push('method=manual', `address1=${w.value('ipv4.address', cidr(nic.ipv4.address))}${gw}`);
  } else lines.push('method=disabled');
  if (nic.method !== 'manual' && carriesDns) {
    const ns4 = nameserversOf(net, 4);
    if (ns4.length > 0) lines.push(`dns=${list('dns', ns4)}`);
    if (net.dns.search.length > 0) lines.push(`dns-search=${list('search', net.dns.search)}`);
    // DHCP-learnt servers would otherwise be merged with the context's.
    if (nic.method === 'dhcp' && ns4.length > 0) lines.push('ignore-auto-dns=true');
  }
  routesOf(nic, 4).forEach((r, i) => lines.push(routeLine(w, i + 1, r.destination, r.gateway, r.metric)));
  if (nic.neverDefault) lines.push('never-default=true');

  lines.push('', '[ipv6]');
  if (nic.ipv6) {
    const gw = nic.ipv6.gateway ? `,${w.value('ipv6.gateway', nic.ipv6.gateway)}` : '';
    lines.push('method=manual', `address1=${w.value('ipv6.address', cidr(nic.ipv6.address))}${gw}`);
  } else if (nic.method === 'manual') lines.push('method=ignore');
  else lines.push('method=auto');
  const ns6 = nameserversOf(net, 6);
  if (carriesDns && nic.method !== 'manual' && ns6.length > 0) lines.push(`dns=${list('dns', ns6)}`);
  routesOf(nic, 6).forEach((r, i) => lines.push(routeLine(w, i + 1, r.destination, r.gateway, r.metric)));

  notes.push(...deleteRouteNotes('NetworkManager', nic), ...broadcastNotes('NetworkManager', nic));
  return `${lines.join('\n')}\n`;
}

function routeLine(
  w: Writer,
  n: number,
  dest: { address: string; prefix: number },
  gateway: string | undefined,
  metric: number | undefined,
): string {
  // routeN=dest/prefix[,gateway[,metric]]; an on-link route with a metric needs the unspecified gateway.
  const parts = [w.value('route', cidr(dest))];
  if (gateway || metric !== undefined) parts.push(w.value('route.gateway', gateway ?? (dest.address.includes(':') ? '::' : '0.0.0.0')));
  if (metric !== undefined) parts.push(w.value('route.metric', metric));
  return `route${n}=${parts.join(',')}`;
}

export const networkmanager: NetworkRenderer = {
  name: 'networkmanager',
  owned: [
    { dir: DIR, prefix: PREFIX },
    { dir: '/etc/NetworkManager/conf.d', prefix: '99-contextualization' },
  ],
  detect(sys: SystemView): boolean {
    return sys.unitEnabled('NetworkManager.service');
  },
  render(net: NetworkConfig): RenderResult {
    const notes: Note[] = [];
    const files = net.nics.map((nic) =>
      // 0600: NetworkManager ignores keyfiles readable by others.
      file(nmPath(nic), renderNic(net, nic, notes), 0o600, `NetworkManager profile for ${nic.name} (${nic.mac})`),
    );
    const commands =
      net.nics.length === 0
        ? []
        : [
            liveVia(NM_UNIT, ['nmcli', 'connection', 'reload'], 'make NetworkManager read the new profiles', 15_000),
            ...net.nics.map((nic) =>
              liveVia(NM_UNIT, ['nmcli', 'connection', 'up', 'uuid', connectionUuid(nic)], `activate the profile on ${nic.name}`, 60_000),
            ),
          ];
    return { files, commands, notes };
  },
};

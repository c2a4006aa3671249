/**
 * systemd-networkd: one .network file per NIC, matched by MAC so it survives name changes.
 * `10-` sorts before the distribution's catch-all files (e.g. 99-default, 50-dhcp): networkd applies
 * the first matching file in lexical order.
 */
import type { NetworkConfig, NetworkRenderer, RenderResult, ResolvedNic, SystemView } from '../../types/network.js';
import type { Note } from '../../types/plan.js';
import {
  HEADER,
  Writer,
  cidr,
  customBroadcast,
  deleteRouteNotes,
  dnsCarrier,
  file,
  isV6,
  liveVia,
} from './common.js';

export const NETWORKD_UNIT = 'systemd-networkd.service';
const DIR = '/etc/systemd/network';
const PREFIX = '10-contextualization-';
/** Our drop-in in `<distribution file>.network.d/`: last in the drop-in order, so no other drop-in resets it. */
export const NETWORKD_DROPIN = '99-contextualization.conf';

export function networkdPath(nic: ResolvedNic): string {
  return `${DIR}/${PREFIX}${nic.name}.network`;
}

function renderNic(net: NetworkConfig, nic: ResolvedNic, notes: Note[]): string {
  const w = new Writer(networkdPath(nic));
  w.ifname(nic.name);
  const lines: string[] = [HEADER, '', '[Match]', `MACAddress=${w.value('mac', nic.mac)}`];
  // Type=ether: VLANs, bridges and bonds can carry the same MAC and must not match.
  lines.push('Type=ether');
  if (nic.mtu !== undefined) lines.push('', '[Link]', `MTUBytes=${w.value('mtu', nic.mtu)}`);

  lines.push('', '[Network]');
  if (nic.method === 'dhcp') lines.push('DHCP=ipv4');
  else lines.push('DHCP=no');
  if (nic.method === 'manual') lines.push('LinkLocalAddressing=no', 'IPv6AcceptRA=no');

  const broadcast = customBroadcast(nic);
  if (nic.ipv4) {
    // A custom broadcast needs an [Address] section; otherwise the short form.
    if (!broadcast) lines.push(`Address=${w.value('ipv4.address', cidr(nic.ipv4.address))}`);
    if (nic.ipv4.gateway) lines.push(`Gateway=${w.value('ipv4.gateway', nic.ipv4.gateway)}`);
  }
  if (nic.ipv6) {
    lines.push(`Address=${w.value('ipv6.address', cidr(nic.ipv6.address))}`);
    if (nic.ipv6.gateway) lines.push(`Gateway=${w.value('ipv6.gateway', nic.ipv6.gateway)}`);
  }
  if (nic === dnsCarrier(net)) {
    for (const ns of net.dns.nameservers) lines.push(`DNS=${w.value('dns', ns)}`);
    if (net.dns.search.length > 0) lines.push(`Domains=${net.dns.search.map((d) => w.value('search', d)).join(' ')}`);
  }

  if (nic.ipv4 && broadcast) {
    lines.push('', '[Address]', `Address=${w.value('ipv4.address', cidr(nic.ipv4.address))}`, `Broadcast=${w.value('broadcast', broadcast)}`);
  }
  if (nic.neverDefault && nic.method === 'dhcp') {
    lines.push('', '[DHCPv4]', 'UseGateway=no');
  }
  for (const r of nic.routes) {
    lines.push('', '[Route]', `Destination=${w.value('route', cidr(r.destination))}`);
    if (r.gateway) lines.push(`Gateway=${w.value('route.gateway', r.gateway)}`);
    else if (!isV6(r.destination.address)) lines.push('Scope=link');
    if (r.metric !== undefined) lines.push(`Metric=${w.value('route.metric', r.metric)}`);
  }
  notes.push(...deleteRouteNotes('networkd', nic));
  return `${lines.join('\n')}\n`;
}

export const networkd: NetworkRenderer = {
  name: 'networkd',
  owned: [
    { dir: DIR, prefix: PREFIX },
    { dir: DIR, prefix: NETWORKD_DROPIN, inSubdirs: '.network.d' },
  ],
  detect(sys: SystemView): boolean {
    return sys.unitEnabled('systemd-networkd.service');
  },
  render(net: NetworkConfig): RenderResult {
    const notes: Note[] = [];
    const files = net.nics.map((nic) =>
      file(networkdPath(nic), renderNic(net, nic, notes), 0o644, `networkd config for ${nic.name} (${nic.mac})`),
    );
    const names = net.nics.map((n) => n.name);
    const commands =
      names.length === 0
        ? []
        : [
            liveVia(NETWORKD_UNIT, ['networkctl', 'reload'], 'make networkd read the new .network files', 15_000),
            liveVia(NETWORKD_UNIT, ['networkctl', 'reconfigure', ...names], 'apply them to the configured NICs now', 15_000),
          ];
    return { files, commands, notes };
  },
};

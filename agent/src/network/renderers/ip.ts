/**
 * The last resort for systems with no network manager: iproute2 commands on the live system, no files.
 * Nothing persists across reboots, which is fine because the agent runs at every boot.
 * `replace` everywhere so a re-run is idempotent. Addresses of every NIC come before any route, since
 * a gateway is reachable only once the address holding its subnet exists.
 */
import { info, warn, type Note, type PlannedCommand } from '../../types/plan.js';
import type { NetworkConfig, NetworkRenderer, RenderResult, ResolvedNic, ResolvedRoute } from '../../types/network.js';
import { Writer, cidr, isV6, live } from './common.js';

const w = new Writer('ip (live commands)');

function family(address: string): string[] {
  return isV6(address) ? ['-6'] : [];
}

function routeArgv(verb: 'replace' | 'del', nic: ResolvedNic, r: ResolvedRoute): string[] {
  const dest = r.destination.prefix === 0 ? 'default' : w.value('route', cidr(r.destination));
  const argv = ['ip', ...family(r.destination.address), 'route', verb, dest];
  if (r.gateway) argv.push('via', w.value('route.gateway', r.gateway));
  argv.push('dev', nic.name);
  if (!r.gateway && !isV6(r.destination.address) && verb === 'replace') argv.push('scope', 'link');
  if (r.metric !== undefined) argv.push('metric', w.value('route.metric', r.metric));
  return argv;
}

function linkCommands(nic: ResolvedNic): PlannedCommand[] {
  const name = w.ifname(nic.name);
  const out: PlannedCommand[] = [];
  if (nic.mtu !== undefined) out.push(live(['ip', 'link', 'set', 'dev', name, 'mtu', w.value('mtu', nic.mtu)], `MTU of ${name}`, true));
  out.push(live(['ip', 'link', 'set', 'dev', name, 'up'], `bring ${name} up`, true));
  if (nic.ipv4) {
    const a = w.value('ipv4.address', cidr(nic.ipv4.address));
    // /31 and /32 have no broadcast address (RFC 3021).
    const brd = nic.ipv4.address.prefix < 31 ? ['broadcast', w.value('ipv4.broadcast', nic.ipv4.broadcast)] : [];
    out.push(live(['ip', 'addr', 'replace', a, ...brd, 'dev', name], `IPv4 address of ${name}`, true));
  }
  if (nic.ipv6) {
    const a = w.value('ipv6.address', cidr(nic.ipv6.address));
    out.push(live(['ip', '-6', 'addr', 'replace', a, 'dev', name], `IPv6 address of ${name}`, true));
  }
  return out;
}

function routeCommands(nic: ResolvedNic): PlannedCommand[] {
  const out: PlannedCommand[] = [];
  // Deletions first: a context that deletes a route and adds a more specific one expects both effects.
  for (const r of nic.deleteRoutes) {
    out.push(live(routeArgv('del', nic, r), `delete route ${cidr(r.destination)} (fails harmlessly when absent)`, false));
  }
  if (nic.neverDefault) {
    out.push(live(['ip', 'route', 'del', 'default', 'dev', nic.name], `no IPv4 default route via ${nic.name} (del default)`, false));
  }
  for (const r of nic.routes) out.push(live(routeArgv('replace', nic, r), `route ${cidr(r.destination)} via ${nic.name}`, true));
  if (nic.ipv4?.gateway) {
    out.push(live(routeArgv('replace', nic, { destination: { address: '0.0.0.0', prefix: 0 }, gateway: nic.ipv4.gateway }), `IPv4 default route via ${nic.name}`, true));
  }
  if (nic.ipv6?.gateway) {
    out.push(live(routeArgv('replace', nic, { destination: { address: '::', prefix: 0 }, gateway: nic.ipv6.gateway }), `IPv6 default route via ${nic.name}`, true));
  }
  return out;
}

export const ip: NetworkRenderer = {
  name: 'ip',
  owned: [],
  /** Always usable: iproute2 is present on every system this agent targets; it is the fallback. */
  detect(): boolean {
    return true;
  },
  render(net: NetworkConfig): RenderResult {
    const notes: Note[] = [];
    for (const nic of net.nics) {
      if (nic.method === 'dhcp') notes.push(warn(`ip: no DHCP client is run for ${nic.name}; the link is only brought up`, nic.name));
    }
    if (net.dns.nameservers.length > 0 || net.dns.search.length > 0) {
      notes.push(info('ip: DNS is not part of this backend; the resolver step must write /etc/resolv.conf'));
    }
    const commands = [...net.nics.flatMap(linkCommands), ...net.nics.flatMap(routeCommands)];
    return { files: [], commands, notes };
  },
};

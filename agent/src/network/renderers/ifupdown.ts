/**
 * Debian ifupdown: one file in /etc/network/interfaces.d for all NICs. The user's
 * /etc/network/interfaces is never edited; it must `source` interfaces.d (Debian's default does),
 * which inspect() checks.
 *
 * Extra routes use `up ip route replace`, not `add`: an `up` command that fails makes ifup fail the
 * whole interface, and `add` fails whenever the route is already there (re-run, ifup after a partial ifdown).
 */
import type { NetworkConfig, NetworkRenderer, RenderResult, ResolvedNic, ResolvedRoute, SystemView } from '../../types/network.js';
import { info, warn, type Note } from '../../types/plan.js';
import { HEADER, Writer, cidr, dnsCarrier, file, isV6, liveVia, routesOf } from './common.js';

/**
 * Debian's unit that runs `ifup -a` (After=network-pre.target, so after the agent's local stage): ifup
 * before it would race it, and at boot it brings our stanzas up by itself.
 */
export const IFUPDOWN_UNIT = 'networking.service';
export const IFUPDOWN_PATH = '/etc/network/interfaces.d/50-contextualization';
const IFUP_BINARIES = ['/sbin/ifup', '/usr/sbin/ifup'];

function routeArgs(w: Writer, nic: ResolvedNic, r: ResolvedRoute): string {
  const parts = [w.value('route', cidr(r.destination))];
  if (r.gateway) parts.push('via', w.value('route.gateway', r.gateway));
  parts.push('dev', nic.name);
  if (r.metric !== undefined) parts.push('metric', w.value('route.metric', r.metric));
  return parts.join(' ');
}

function renderNic(net: NetworkConfig, nic: ResolvedNic, w: Writer): string[] {
  const name = w.ifname(nic.name);
  const v = (key: string, value: string | number): string => w.value(`${name}.${key}`, value);
  // allow-hotplug as well as auto: udev may have queued ifup@<nic>.service from the image's own
  // `allow-hotplug <nic>` before the local stage disabled it; that unit runs
  // `ifup --allow=hotplug <nic>; ifquery --state <nic>` and fails unless our stanza is in that class too.
  const out = ['', `# ${nic.mac}`, `auto ${name}`, `allow-hotplug ${name}`];
  const method = nic.method === 'dhcp' ? 'dhcp' : nic.ipv4 ? 'static' : 'manual';
  out.push(`iface ${name} inet ${method}`);
  const opt = (line: string): void => {
    out.push(`    ${line}`);
  };
  if (nic.ipv4) {
    opt(`address ${v('ipv4.address', cidr(nic.ipv4.address))}`);
    if (nic.ipv4.gateway) opt(`gateway ${v('ipv4.gateway', nic.ipv4.gateway)}`);
    if (nic.ipv4.address.prefix < 31) opt(`broadcast ${v('ipv4.broadcast', nic.ipv4.broadcast)}`); // none in /31, /32
  }
  if (nic.mtu !== undefined) {
    // `mtu` is an option of the static method only; the others get it before the link comes up.
    if (method === 'static') opt(`mtu ${v('mtu', nic.mtu)}`);
    else opt(`pre-up ip link set dev ${name} mtu ${v('mtu', nic.mtu)}`);
  }
  if (nic === dnsCarrier(net) && nic.method !== 'manual') {
    // Read by resolvconf / openresolv hooks; ignored (harmlessly) when neither is installed.
    if (net.dns.nameservers.length > 0) opt(`dns-nameservers ${net.dns.nameservers.map((s) => v('dns', s)).join(' ')}`);
    if (net.dns.search.length > 0) opt(`dns-search ${net.dns.search.map((s) => v('search', s)).join(' ')}`);
  }
  for (const r of routesOf(nic, 4)) opt(`up ip route replace ${routeArgs(w, nic, r)}`);
  if (nic.neverDefault && nic.method === 'dhcp') opt(`up ip route del default dev ${name} || true`);
  for (const r of nic.deleteRoutes.filter((d) => !isV6(d.destination.address))) {
    opt(`up ip route del ${routeArgs(w, nic, r)} || true`);
  }

  const routes6 = routesOf(nic, 6);
  const deletes6 = nic.deleteRoutes.filter((d) => isV6(d.destination.address));
  if (nic.ipv6) {
    out.push(`iface ${name} inet6 static`);
    opt(`address ${v('ipv6.address', cidr(nic.ipv6.address))}`);
    if (nic.ipv6.gateway) opt(`gateway ${v('ipv6.gateway', nic.ipv6.gateway)}`);
    for (const r of routes6) opt(`up ip -6 route replace ${routeArgs(w, nic, r)}`);
    for (const r of deletes6) opt(`up ip -6 route del ${routeArgs(w, nic, r)} || true`);
  } else {
    // IPv6 routes without a static IPv6 address: run them from the inet stanza once the link is up.
    for (const r of routes6) opt(`up ip -6 route replace ${routeArgs(w, nic, r)}`);
    for (const r of deletes6) opt(`up ip -6 route del ${routeArgs(w, nic, r)} || true`);
  }
  return out;
}

/** Whether an /etc/network/interfaces text pulls in interfaces.d (source / source-directory, any common spelling). */
export function sourcesInterfacesD(interfaces: string): boolean {
  return interfaces.split('\n').some((raw) => {
    const line = raw.trim();
    return (
      /^source\s+(\/etc\/network\/)?interfaces\.d\/(\*|50-contextualization)\s*$/.test(line) ||
      /^source-directory\s+(\/etc\/network\/)?interfaces\.d\/?\s*$/.test(line)
    );
  });
}

export const ifupdown: NetworkRenderer = {
  name: 'ifupdown',
  owned: [{ dir: '/etc/network/interfaces.d', prefix: '50-contextualization' }],
  detect(sys: SystemView): boolean {
    return sys.exists('/etc/network/interfaces') && IFUP_BINARIES.some((b) => sys.exists(b));
  },
  inspect(sys: SystemView): Note[] {
    const interfaces = sys.readFile('/etc/network/interfaces');
    if (interfaces === undefined) return [warn('ifupdown: /etc/network/interfaces is missing; ifup will not read interfaces.d', '/etc/network/interfaces')];
    // The distribution's own stanzas for our NICs are disabled by the plan (distro/ifupdown.ts), not just reported.
    return sourcesInterfacesD(interfaces)
      ? []
      : [warn(`ifupdown: /etc/network/interfaces does not "source /etc/network/interfaces.d/*"; ${IFUPDOWN_PATH} will be ignored`, '/etc/network/interfaces')];
  },
  render(net: NetworkConfig): RenderResult {
    if (net.nics.length === 0) return { files: [], commands: [], notes: [info('ifupdown: no NIC to configure')] };
    const w = new Writer(IFUPDOWN_PATH);
    const lines = [HEADER, ...net.nics.flatMap((nic) => renderNic(net, nic, w))];
    const commands = net.nics.flatMap((nic) => [
      liveVia(IFUPDOWN_UNIT, ['ifdown', '--force', nic.name], `take ${nic.name} down before re-reading its config`, 30_000),
      liveVia(IFUPDOWN_UNIT, ['ifup', nic.name], `bring ${nic.name} up with the new config`, 60_000),
    ]);
    const notes = net.nics.flatMap((nic) =>
      nic.neverDefault && nic.method === 'dhcp' ? [info(`ifupdown: the DHCP default route on ${nic.name} is removed after ifup (it exists briefly)`, nic.name)] : [],
    );
    return {
      files: [file(IFUPDOWN_PATH, `${lines.join('\n')}\n`, 0o644, `ifupdown stanzas for ${net.nics.map((n) => n.name).join(', ')}`)],
      commands,
      notes,
    };
  },
};

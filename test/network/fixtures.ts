/**
 * Contexts as the parsers produce them (the model, built directly: this suite tests what happens
 * after parsing) and the NICs a guest would show.
 */
import { emptyContext, type Context, type Route } from '../../lib/context/model.js';
import type { SystemNic } from '../../agent/src/types/network.js';

export const nic = (name: string, mac: string): SystemNic => ({ name, mac, physical: true });

const net = (address: string, prefix: number) => ({ address, prefix });

export const route = (
  action: Route['action'],
  dest: string,
  opts: { gateway?: string; device?: string; metric?: number } = {},
): Route => {
  const [address, prefix] = dest === 'default' ? ['0.0.0.0', '0'] : dest.split('/');
  return { action, destination: net(address!, Number(prefix)), ...opts };
};

/** The Snooze example: MAC 00:16:c0:a8:7a:11 = 192.168.122.17 in NETWORK 192.168.122.0/24, a route via eth0. */
export function snoozeContext(): Context {
  return {
    ...emptyContext(),
    dns: { nameservers: ['192.168.122.1'], search: ['example.org'], domain: 'example.org' },
    legacySubnet: { network: net('192.168.122.0', 24), gateway: '192.168.122.1', broadcast: '192.168.122.255' },
    routes: [route('add', '10.10.0.0/16', { gateway: '192.168.122.254', device: 'eth0' })],
  };
}

export const SNOOZE_MAC = '00:16:c0:a8:7a:11';

/** Explicit two-NIC context: one static (IPv4+IPv6, MTU, routes), one DHCP; both matched by MAC. */
export function twoNicContext(): Context {
  return {
    ...emptyContext(),
    dns: { nameservers: ['10.0.0.2', '2001:db8::2'], search: ['lab.example', 'example.org'] },
    nics: [
      {
        match: { kind: 'mac', mac: '52:54:00:aa:00:01' },
        method: 'static',
        ipv4: { address: net('10.0.0.5', 24), gateway: '10.0.0.1' },
        ipv6: { address: net('2001:db8::5', 64), gateway: '2001:db8::1' },
        mtu: 9000,
      },
      { match: { kind: 'mac', mac: '52:54:00:aa:00:02' }, method: 'dhcp' },
    ],
    routes: [
      route('add', '172.16.0.0/12', { gateway: '10.0.0.254', metric: 100 }),
      { action: 'add', destination: net('2001:db8:100::', 48), gateway: '2001:db8::fe' },
    ],
  };
}

/** Snooze routes with `del default`, an on-link route, a deletion, and an add cancelled by a delete. */
export function delDefaultContext(): Context {
  const ctx = snoozeContext();
  ctx.nics = [{ match: { kind: 'name', name: 'eth1' }, method: 'dhcp' }];
  ctx.routes = [
    route('add', '10.0.0.0/8', { device: 'eth0' }),
    route('add', '192.168.200.0/24', { gateway: '192.168.122.254', device: 'eth0' }),
    route('delete', '192.168.200.0/24', { device: 'eth0' }),
    route('delete', '169.254.0.0/16', { device: 'eth0' }),
    route('delete', 'default', { device: 'eth0' }),
  ];
  return ctx;
}

export function dhcpOnlyContext(): Context {
  return { ...emptyContext(), nics: [{ match: { kind: 'name', name: 'eth0' }, method: 'dhcp' }] };
}

export interface GoldenCase {
  name: string;
  ctx: Context;
  nics: SystemNic[];
}

export const GOLDEN_CASES: GoldenCase[] = [
  { name: 'snooze-eth0', ctx: snoozeContext(), nics: [nic('eth0', SNOOZE_MAC), nic('eth1', '52:54:00:12:34:56')] },
  { name: 'snooze-ens3', ctx: snoozeContext(), nics: [nic('ens3', SNOOZE_MAC)] },
  { name: 'two-nic', ctx: twoNicContext(), nics: [nic('ens3', '52:54:00:aa:00:01'), nic('ens4', '52:54:00:aa:00:02')] },
  { name: 'del-default', ctx: delDefaultContext(), nics: [nic('eth0', SNOOZE_MAC), nic('eth1', '52:54:00:00:00:02')] },
  { name: 'dhcp-only', ctx: dhcpOnlyContext(), nics: [nic('eth0', '52:54:00:12:34:56')] },
];

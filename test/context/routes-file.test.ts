import { describe, expect, it } from 'vitest';
import type { Route } from '../../lib/context/index.js';
import { formatRoute, parseRouteTokens } from '../../lib/context/index.js';
import { parse, problemsOf } from './helpers.js';

const R = 'common/routes';
const routes = (text: string) => parse({ [R]: text }).routes;

describe('common/routes: accepted forms', () => {
  it('reads the Snooze lines (double space and all) verbatim', () => {
    expect(routes('up route add -net 172.16.0.0  netmask 255.240.0.0 dev eth0\nup route del default\n')).toEqual([
      { action: 'add', destination: { address: '172.16.0.0', prefix: 12 }, device: 'eth0' },
      { action: 'delete', destination: { address: '0.0.0.0', prefix: 0 } },
    ]);
  });

  it("reads Snooze's generator output with an empty routes file", () => {
    expect(routes('\n')).toEqual([]);
  });

  const cases: [string, Route][] = [
    ['up route add -net 10.0.0.0 netmask 255.0.0.0 gw 192.0.2.1 metric 5 dev eth0',
      { action: 'add', destination: { address: '10.0.0.0', prefix: 8 }, gateway: '192.0.2.1', metric: 5, device: 'eth0' }],
    ['route add -net 10.0.0.0/8 dev eth1', { action: 'add', destination: { address: '10.0.0.0', prefix: 8 }, device: 'eth1' }],
    ['up route add -net 10.1.0.0 dev eth0 netmask 255.255.0.0', { action: 'add', destination: { address: '10.1.0.0', prefix: 16 }, device: 'eth0' }],
    ['up route add -host 198.51.100.7 gw 192.0.2.1', { action: 'add', destination: { address: '198.51.100.7', prefix: 32 }, gateway: '192.0.2.1' }],
    ['up route add default gw 192.0.2.1', { action: 'add', destination: { address: '0.0.0.0', prefix: 0 }, gateway: '192.0.2.1' }],
    ['up route del default gw 192.0.2.1', { action: 'delete', destination: { address: '0.0.0.0', prefix: 0 }, gateway: '192.0.2.1' }],
    ['up route delete -net 10.0.0.0 netmask 255.0.0.0', { action: 'delete', destination: { address: '10.0.0.0', prefix: 8 } }],
    ['up ip route add 10.2.0.0/16 via 192.0.2.1 dev eth0 metric 100',
      { action: 'add', destination: { address: '10.2.0.0', prefix: 16 }, gateway: '192.0.2.1', device: 'eth0', metric: 100 }],
    ['ip route add default via 192.0.2.1', { action: 'add', destination: { address: '0.0.0.0', prefix: 0 }, gateway: '192.0.2.1' }],
    ['ip route add default via 2001:db8::1', { action: 'add', destination: { address: '::', prefix: 0 }, gateway: '2001:db8::1' }],
    ['ip route add 2001:DB8:1::/48 via fe80::1 dev eth0', { action: 'add', destination: { address: '2001:db8:1::', prefix: 48 }, gateway: 'fe80::1', device: 'eth0' }],
    ['ip route del 198.51.100.9', { action: 'delete', destination: { address: '198.51.100.9', prefix: 32 } }],
    ['up route add -net 10.0.0.0 netmask 255.0.0.0 dev eth0   # lab network', { action: 'add', destination: { address: '10.0.0.0', prefix: 8 }, device: 'eth0' }],
  ];
  it.each(cases)('%s', (line, expected) => {
    expect(routes(`${line}\n`)).toEqual([expected]);
  });
});

describe('common/routes: refused lines, exact messages', () => {
  it.each([
    ['up route add -net 10.0.0.0 netmask 255.0.0.0 dev eth0; reboot', 'unexpected character ";" (routes are never passed to a shell; only addresses, names and options are allowed)'],
    ['up route add -net $(reboot)', 'unexpected character "$" (routes are never passed to a shell; only addresses, names and options are allowed)'],
    ['up route add -net `id`', 'unexpected character "`" (routes are never passed to a shell; only addresses, names and options are allowed)'],
    ['down route del -net 10.0.0.0 netmask 255.0.0.0', 'only "up" lines are supported ("down" is not: the agent manages the lifetime of its routes itself)'],
    ['up iptables -F', 'expected "up route add|del ..." or "up ip route add|del ..."'],
    ['up route flush', 'expected "add" or "del" after "route", got "flush"'],
    ['up route add 10.0.0.0 gw 192.0.2.1', 'expected -net, -host or default after "add", got "10.0.0.0"'],
    ['up route add -net 10.0.0.0 dev eth0', '-net 10.0.0.0 needs "netmask M" (or write 10.0.0.0/PREFIX)'],
    ['up route add -net 10.0.0.1 netmask 255.0.0.0 dev eth0', 'host bits set: 10.0.0.1 netmask 255.0.0.0 is the network 10.0.0.0'],
    ['up route add -net 10.0.0.0 netmask 255.0.255.0 dev eth0', 'netmask "255.0.255.0" is not a contiguous IPv4 netmask'],
    ['up route add -net 10.0.0.0/8 netmask 255.0.0.0 dev eth0', 'give either 10.0.0.0/8 or a netmask, not both'],
    ['up route add -net 10.0.0.0/33 dev eth0', '-net 10.0.0.0/33: prefix length must be from 0 to 32'],
    ['up route add -host 10.0.0.1 netmask 255.0.0.0 dev eth0', '-host routes have no netmask (use -net N netmask M)'],
    ['up route add default netmask 0.0.0.0 gw 10.0.0.1', 'a default route has no netmask'],
    ['up route add -net 10.0.0.0/8', 'an added route needs a gateway or a device'],
    ['up route add default gw 10.0.0.1 gw 10.0.0.2', '"gw" given twice'],
    ['up route add default gw', '"gw" needs a value'],
    ['up route add default via 10.0.0.1', 'unsupported word "via" (expected one of: netmask, gw, metric, dev)'],
    ['up route add default gw 10.0.0.1 metric -1', 'metric "-1" must be a whole number from 0 to 4294967295'],
    ['up route add default gw 10.0.0.1 metric 4294967296', 'metric "4294967296" must be from 0 to 4294967295'],
    ['up route add default gw 10.0.0.1 dev eth0:1', 'device "eth0:1": interface name must be 1-15 characters of A-Z a-z 0-9 _ . - (not starting with . _ -)'],
    ['up route add default gw 10.0.0.1 dev averyveryverylongname', 'device "averyveryverylongname": interface name must be 1-15 characters of A-Z a-z 0-9 _ . - (not starting with . _ -)'],
    ['up route add default gw 2001:db8::1', 'gateway 2001:db8::1 is IPv6 but the destination is IPv4'],
    ['ip addr add 10.0.0.1/24 dev eth0', 'expected "ip route", got "ip addr"'],
    ['ip route add 10.0.0.0/8 gw 10.0.0.1', 'unsupported word "gw" (expected one of: via, metric, dev)'],
    ['ip route add 10.0.0.0/8 via 2001:db8::1', 'gateway 2001:db8::1 is IPv6 but the destination is IPv4'],
    ['ip route add 2001:db8::1/32 via fe80::1', 'destination 2001:db8::1/32: host bits set: the network of 2001:db8::1/32 is 2001:db8::/32'],
  ])('%s', (line, why) => {
    expect(problemsOf({ [R]: `# header\n${line}\n` })).toEqual([`common/routes: line 2 = ${JSON.stringify(line)}: ${why}`]);
  });
});

describe('common/routes: gateway reachability', () => {
  const legacy = 'NETWORK=192.168.122.0\nNETMASK=255.255.255.0\n';
  it('accepts a gateway inside the legacy subnet or a NIC subnet', () => {
    expect(problemsOf({ 'common/network': legacy, [R]: 'up route add -net 10.0.0.0/8 gw 192.168.122.254\n' })).toEqual([]);
    expect(problemsOf({
      'common/network': legacy,
      'common/context.ini': '[nic "eth1"]\naddress = 10.9.0.5/16\n',
      [R]: 'up route add -net 10.0.0.0/8 gw 10.9.0.1\n',
    })).toEqual([]);
  });
  it('refuses a gateway outside every configured subnet', () => {
    expect(problemsOf({ 'common/network': legacy, [R]: 'up route add -net 10.0.0.0/8 gw 172.16.0.1\n' })).toEqual([
      'common/routes: line 1 = "add 10.0.0.0/8 via 172.16.0.1": gateway 172.16.0.1 is not inside any configured subnet (192.168.122.0/24): it would be unreachable',
    ]);
  });
  it('cannot judge when a NIC takes its subnet from DHCP, so accepts', () => {
    expect(problemsOf({
      'common/network': legacy,
      'common/context.ini': '[nic "eth1"]\nmethod = dhcp\n',
      [R]: 'up route add -net 10.0.0.0/8 gw 172.16.0.1\n',
    })).toEqual([]);
  });
  it('does not pile a reachability error on a refused NIC address', () => {
    expect(problemsOf({
      'common/context.ini': '[nic "eth1"]\naddress = 10.9.0.0/16\n[nic "eth2"]\naddress = 10.8.0.5/16\n',
      [R]: 'up route add -net 10.0.0.0/8 gw 10.9.0.1\n',
    })).toEqual(['common/context.ini: line 2: nic "eth1".address = "10.9.0.0/16": is the network or broadcast address of its /16']);
  });
  it('does not judge deletions', () => {
    expect(problemsOf({ 'common/network': legacy, [R]: 'up route del default gw 172.16.0.1\n' })).toEqual([]);
  });
});

describe('route helpers for the host tools', () => {
  it('parseRouteTokens and formatRoute agree', () => {
    const r = parseRouteTokens('ip route add 10.3.0.0/16 via 192.0.2.1 metric 7'.split(' '));
    const route: Route = { action: 'add', destination: { address: '10.3.0.0', prefix: 16 }, gateway: '192.0.2.1', metric: 7 };
    expect(r).toEqual({ ok: true, value: route });
    expect(formatRoute(route)).toBe('up route add -net 10.3.0.0 netmask 255.255.0.0 gw 192.0.2.1 metric 7');
    expect(parseRouteTokens(formatRoute(route).split(' '))).toEqual(r);
    expect(parseRouteTokens(['route', 'add', 'default', 'dev', 'eth0:1'])).toEqual({
      ok: false, why: 'device "eth0:1": interface name must be 1-15 characters of A-Z a-z 0-9 _ . - (not starting with . _ -)',
    });
  });
});

/**
 * parseContext(serializeContext(ctx)) deep-equals ctx: a table of hand-picked shapes, then many
 * valid contexts from a seeded generator (the seed is printed on failure so a case can be replayed).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 as rng } from '../support/prng.js';
import { describe, expect, it } from 'vitest';
import {
  emptyContext, parseContext, serializeContext, validateContext, type Context, type NicConfig, type Route,
} from '../../lib/context/index.js';
import { broadcastAddress, networkAddress, numberToIPv4, ipv4ToNumber, ipv6NetworkAddress } from '../../lib/net/ip.js';
import { sshKey } from './helpers.js';

function roundTrip(ctx: Context): Context {
  return parseContext(serializeContext(ctx));
}

const keyA = sshKey('ed25519', 'alice@example');
const keyB = sshKey('rsa');

const table: [string, (c: Context) => void][] = [
  ['empty', () => {}],
  ['Snooze legacy subnet only', (c) => {
    c.legacySubnet = { network: { address: '192.168.122.0', prefix: 24 }, gateway: '192.168.122.1', broadcast: '192.168.122.255' };
    c.dns.nameservers = ['192.168.122.1'];
  }],
  ['legacy subnet without gateway or broadcast', (c) => {
    c.legacySubnet = { network: { address: '10.0.0.0', prefix: 8 } };
  }],
  ['DNS with domain first and IPv6 servers', (c) => {
    c.dns = { nameservers: ['192.0.2.53', '2001:db8::53'], domain: 'example.org', search: ['example.org', 'lab.example.org'] };
  }],
  ['DNS domain only', (c) => {
    c.dns = { nameservers: [], domain: 'example.org', search: ['example.org'] };
  }],
  ['search without domain', (c) => {
    c.dns = { nameservers: [], search: ['b.example', 'a.example'] };
  }],
  ['every NIC shape', (c) => {
    c.nics = [
      { match: { kind: 'mac', mac: '52:54:00:12:34:56' }, method: 'static', mtu: 9000,
        ipv4: { address: { address: '192.168.122.17', prefix: 24 }, gateway: '192.168.122.1', broadcast: '192.168.122.255' },
        ipv6: { address: { address: '2001:db8::17', prefix: 64 }, gateway: 'fe80::1' } },
      { match: { kind: 'name', name: 'eth1' }, method: 'dhcp' },
      { match: { kind: 'name', name: 'eth0.100' }, method: 'manual', mtu: 1400 },
      { match: { kind: 'mac', mac: '02:00:0a:00:00:05' }, method: 'static', ipv6: { address: { address: 'fd00::5', prefix: 128 } } },
      { match: { kind: 'mac', mac: '02:00:0a:00:00:06' }, method: 'static', ipv4: { address: { address: '10.0.0.6', prefix: 31 } } },
    ];
  }],
  ['every route shape', (c) => {
    c.legacySubnet = { network: { address: '192.168.122.0', prefix: 24 } };
    c.nics = [{ match: { kind: 'name', name: 'eth1' }, method: 'static', ipv6: { address: { address: '2001:db8::2', prefix: 64 } } }];
    c.routes = [
      { action: 'add', destination: { address: '10.0.0.0', prefix: 8 }, device: 'eth0' },
      { action: 'add', destination: { address: '172.16.0.0', prefix: 12 }, gateway: '192.168.122.254', metric: 10, device: 'eth0' },
      { action: 'add', destination: { address: '198.51.100.7', prefix: 32 }, gateway: '192.168.122.254' },
      { action: 'add', destination: { address: '0.0.0.0', prefix: 0 }, gateway: '192.168.122.1', metric: 4294967295 },
      { action: 'delete', destination: { address: '0.0.0.0', prefix: 0 } },
      { action: 'delete', destination: { address: '10.9.0.0', prefix: 16 }, gateway: '10.9.0.1' },
      { action: 'add', destination: { address: '2001:db8:1::', prefix: 48 }, gateway: 'fe80::1', device: 'eth1' },
      { action: 'add', destination: { address: '::', prefix: 0 }, gateway: '2001:db8::1' },
      { action: 'delete', destination: { address: '2001:db8:2::1', prefix: 128 } },
    ];
  }],
  ['identity and post-install with defaults', (c) => {
    c.instanceId = 'i-0123:a.b_c';
    c.hostname = 'web01';
    c.postInstall = { script: '#!/bin/bash\necho "$HOSTNAME" `date`\n', mode: 'per-instance', timeoutSec: 600 };
  }],
  ['post-install per-boot with a timeout, no trailing newline', (c) => {
    c.postInstall = { script: 'echo done', mode: 'per-boot', timeoutSec: 1 };
  }],
  ['post-install disabled, empty script', (c) => {
    c.postInstall = { script: '', mode: 'disabled', timeoutSec: 86400 };
  }],
  ['SSH keys', (c) => {
    c.authorizedKeys = [keyA, keyB];
  }],
];

describe('round trip: table', () => {
  it.each(table)('%s', (_name, build) => {
    const c = emptyContext();
    build(c);
    expect(validateContext(c)).toEqual([]);
    expect(roundTrip(c)).toEqual(c);
  });

  it('a Snooze-only model writes no context.ini', () => {
    const c = emptyContext();
    c.legacySubnet = { network: { address: '192.168.122.0', prefix: 24 } };
    c.routes = [{ action: 'delete', destination: { address: '0.0.0.0', prefix: 0 } }];
    expect([...serializeContext(c).keys()].sort()).toEqual(['common/network', 'common/routes']);
  });
});


function generate(seed: number): Context {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T,>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const maybe = (p = 0.5) => r() < p;
  const label = () => pick(['web', 'db', 'lab', 'a', 'x-1', 'node7', 'example', 'corp']) + (maybe(0.3) ? String(int(0, 99)) : '');
  const domain = () => `${label()}.${pick(['org', 'net', 'internal', 'example'])}`;
  const hostIn = (net: number, prefix: number) => {
    const size = 2 ** (32 - prefix);
    return numberToIPv4(net + (prefix >= 31 ? int(0, size - 1) : int(1, size - 2)));
  };
  const subnet = (lo: number, hi: number) => {
    const prefix = int(lo, hi);
    const addr = numberToIPv4(int(0x0a000000, 0xdfffffff));
    return { address: networkAddress(addr, prefix), prefix };
  };

  const c = emptyContext();
  const subnets: { address: string; prefix: number }[] = [];
  if (maybe()) {
    const net = subnet(8, 30);
    c.legacySubnet = { network: net };
    if (maybe()) c.legacySubnet.gateway = hostIn(ipv4ToNumber(net.address), net.prefix);
    if (maybe()) c.legacySubnet.broadcast = broadcastAddress(net.address, net.prefix);
    subnets.push(net);
  }
  const servers = new Set<string>();
  for (let i = int(0, 3); i > 0; i--) servers.add(maybe(0.8) ? numberToIPv4(int(0x01000000, 0xdfffffff)) : `2001:db8::${int(1, 0xffff).toString(16)}`);
  c.dns.nameservers = [...servers];
  const search = new Set<string>();
  for (let i = int(0, 3); i > 0; i--) search.add(domain());
  if (maybe()) {
    c.dns.domain = domain();
    search.delete(c.dns.domain);
    c.dns.search = [c.dns.domain, ...search];
  } else c.dns.search = [...search];

  let dynamic = false;
  const usedMatch = new Set<string>();
  const usedAddr = new Set<string>();
  const v6Subnets: { address: string; prefix: number }[] = [];
  for (let i = int(0, 4); i > 0; i--) {
    const mac = `52:54:00:${[0, 0, 0].map(() => int(0, 255).toString(16).padStart(2, '0')).join(':')}`;
    const match: NicConfig['match'] = maybe(0.7) ? { kind: 'mac', mac } : { kind: 'name', name: pick(['eth', 'ens', 'enp0s']) + int(0, 9) };
    const id = JSON.stringify(match);
    if (usedMatch.has(id)) continue;
    usedMatch.add(id);
    const method = pick(['static', 'static', 'dhcp', 'manual'] as const);
    const nic: NicConfig = { match, method };
    if (method !== 'static') dynamic = true;
    else {
      const hasV4 = maybe(0.8);
      if (hasV4) {
        const net = subnet(8, 30);
        const address = hostIn(ipv4ToNumber(net.address), net.prefix);
        if (usedAddr.has(address)) continue;
        usedAddr.add(address);
        nic.ipv4 = { address: { address, prefix: net.prefix } };
        if (maybe()) {
          const gw = hostIn(ipv4ToNumber(net.address), net.prefix);
          if (gw !== address) nic.ipv4.gateway = gw;
        }
        if (maybe(0.3)) nic.ipv4.broadcast = broadcastAddress(address, net.prefix);
        subnets.push(net);
      }
      if (!hasV4 || maybe(0.4)) {
        const prefix = pick([48, 56, 64, 64, 64, 112, 128]);
        const address = `2001:db8:${int(1, 0xffff).toString(16)}::${int(2, 0xffff).toString(16)}`;
        if (usedAddr.has(address)) continue;
        usedAddr.add(address);
        nic.ipv6 = { address: { address, prefix } };
        if (maybe()) nic.ipv6.gateway = 'fe80::1';
        v6Subnets.push({ address: ipv6NetworkAddress(address, prefix), prefix });
      }
    }
    if (maybe(0.3)) nic.mtu = int(68, 65535);
    c.nics.push(nic);
  }

  for (let i = int(0, 5); i > 0; i--) {
    const v6 = maybe(0.2);
    const action = maybe(0.8) ? 'add' : 'delete';
    let route: Route;
    if (v6) {
      const prefix = pick([0, 32, 48, 64, 128]);
      const dest = prefix === 0 ? '::' : ipv6NetworkAddress(`2001:db8:${int(1, 0xffff).toString(16)}::${int(1, 0xffff).toString(16)}`, prefix);
      route = { action, destination: { address: dest, prefix } };
      if (maybe(0.7)) route.gateway = 'fe80::1';
    } else {
      const prefix = pick([0, 8, 16, 24, 28, 32]);
      const dest = prefix === 0 ? '0.0.0.0' : networkAddress(numberToIPv4(int(0x01000000, 0xdfffffff)), prefix);
      route = { action, destination: { address: dest, prefix } };
      const s = subnets.length > 0 ? pick(subnets) : undefined;
      if (maybe(0.7) && (s || dynamic || action === 'delete')) route.gateway = s ? hostIn(ipv4ToNumber(s.address), s.prefix) : '10.0.0.1';
    }
    if (maybe(0.5) || (action === 'add' && !route.gateway)) route.device = pick(['eth0', 'eth1', 'ens3']);
    if (maybe(0.3)) route.metric = int(0, 4294967295);
    c.routes.push(route);
  }

  if (maybe()) c.instanceId = `${label()}-${int(0, 1e9)}`;
  if (maybe()) c.hostname = maybe() ? label() : `${label()}.${domain()}`;
  if (maybe()) {
    c.postInstall = {
      script: pick(['#!/bin/bash\necho hi\n', 'touch /tmp/x', '#!/bin/sh\nset -e\nfor i in 1 2 3; do echo "$i"; done\n', '']),
      mode: pick(['per-instance', 'per-boot', 'disabled'] as const),
      timeoutSec: maybe() ? 600 : int(1, 86400),
    };
  }
  if (maybe(0.3)) c.authorizedKeys = maybe() ? [keyA] : [keyA, keyB];
  return c;
}

describe('round trip: seeded random contexts', () => {
  it('500 generated contexts are valid and survive serialize -> parse unchanged', () => {
    let checked = 0;
    const seen = new Set<string>();
    for (let seed = 1; seed <= 500; seed++) {
      const c = generate(seed);
      if (c.legacySubnet) seen.add('legacy');
      for (const n of c.nics) seen.add(`nic:${n.method}:${n.match.kind}${n.ipv4 ? ':v4' : ''}${n.ipv6 ? ':v6' : ''}`);
      for (const r of c.routes) seen.add(`route:${r.action}:${r.destination.address.includes(':') ? 6 : 4}:${r.destination.prefix === 0 ? 'default' : 'net'}`);
      if (c.postInstall) seen.add(`post-install:${c.postInstall.mode}`);
      if (c.dns.domain) seen.add('domain');
      const problems = validateContext(c);
      expect(problems, `seed ${seed}: generator made an invalid context`).toEqual([]);
      expect(roundTrip(c), `seed ${seed}`).toEqual(c);
      checked++;
    }
    expect(checked).toBe(500);
    // The generator really covers the shapes (a degenerate generator would pass trivially).
    for (const shape of ['legacy', 'domain', 'nic:static:mac:v4:v6', 'nic:static:name:v6', 'nic:dhcp:mac', 'nic:manual:name',
      'route:add:4:default', 'route:delete:4:net', 'route:add:6:net', 'route:delete:6:default',
      'post-install:per-boot', 'post-install:disabled', 'post-install:per-instance']) {
      expect(seen, shape).toContain(shape);
    }
  });

  it('serializing is deterministic and the written files parse to the same files again', () => {
    for (let seed = 1000; seed < 1100; seed++) {
      const c = generate(seed);
      const once = serializeContext(c);
      const twice = serializeContext(parseContext(once));
      expect(twice, `seed ${seed}`).toEqual(once);
    }
  });
});

describe('the written common/network is still what a legacy script sourcing it sees', () => {
  it('bash reads the same values the parser does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctx-sh-'));
    try {
      for (let seed = 2000; seed < 2020; seed++) {
        const c = generate(seed);
        const file = join(dir, 'network');
        writeFileSync(file, serializeContext(c).get('common/network')!);
        // The file is our own output; bash sources it to prove a legacy reader sees the same values.
        const out = execFileSync('bash', ['-c', 'set -eu; . "$1"; printf "%s|" "${NETWORK-}" "${NETMASK-}" "${GATEWAY-}" "${NAMESERVER-}" "${DOMAIN-}" "${SEARCH-}"', 'x', file], { encoding: 'utf8' });
        const l = c.legacySubnet;
        const mask = l ? maskOf(l.network.prefix) : '';
        const search = c.dns.domain ? c.dns.search.slice(1) : c.dns.search;
        expect(out, `seed ${seed}`).toBe([l?.network.address ?? '', mask, l?.gateway ?? '', c.dns.nameservers.join(' '), c.dns.domain ?? '', search.join(' '), ''].join('|'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function maskOf(prefix: number): string {
  return numberToIPv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

import { describe, expect, it } from 'vitest';
import { emptyContext, type Context } from '../../lib/context/model.js';
import { ContextError } from '../../lib/context/errors.js';
import { NicNotFoundError, resolveNetwork } from '../../agent/src/network/resolve.js';
import type { ResolvedNic, SystemNic } from '../../agent/src/types/network.js';
import { SNOOZE_MAC, nic, route, snoozeContext, twoNicContext } from './fixtures.js';
import { noteTexts } from '../../agent/src/types/plan.js';

/** A compact view of one resolved NIC, for table rows. */
function brief(n: ResolvedNic): string {
  const parts = [n.name, n.method];
  if (n.ipv4) parts.push(`${n.ipv4.address.address}/${n.ipv4.address.prefix}`, `brd ${n.ipv4.broadcast}`);
  if (n.ipv4?.gateway) parts.push(`gw ${n.ipv4.gateway}`);
  if (n.ipv6) parts.push(`${n.ipv6.address.address}/${n.ipv6.address.prefix}${n.ipv6.gateway ? ` gw6 ${n.ipv6.gateway}` : ''}`);
  for (const r of n.routes) parts.push(`+${r.destination.address}/${r.destination.prefix}${r.gateway ? `>${r.gateway}` : ''}`);
  for (const r of n.deleteRoutes) parts.push(`-${r.destination.address}/${r.destination.prefix}`);
  if (n.neverDefault) parts.push('never-default');
  if (n.primary) parts.push('primary');
  return parts.join(' ');
}

interface Row {
  name: string;
  ctx: () => Context;
  nics: SystemNic[];
  expect: string[];
  /** Substrings that must appear among the notes. */
  notes?: string[];
}

const RANDOM_MAC = '52:54:00:12:34:56';

const rows: Row[] = [
  {
    name: 'Snooze rule: MAC 00:16:c0:a8:7a:11 gives 192.168.122.17 with gateway and broadcast',
    ctx: snoozeContext,
    nics: [nic('eth0', SNOOZE_MAC)],
    expect: ['eth0 static 192.168.122.17/24 brd 192.168.122.255 gw 192.168.122.1 +10.10.0.0/16>192.168.122.254 primary'],
  },
  {
    name: 'Snooze rule on a predictable name: "dev eth0" maps to ens3',
    ctx: snoozeContext,
    nics: [nic('ens3', SNOOZE_MAC)],
    expect: ['ens3 static 192.168.122.17/24 brd 192.168.122.255 gw 192.168.122.1 +10.10.0.0/16>192.168.122.254 primary'],
    notes: ['route device eth0 does not exist here'],
  },
  {
    name: 'a random MAC never yields an address',
    ctx: snoozeContext,
    nics: [nic('eth0', RANDOM_MAC)],
    expect: [],
    notes: ['MAC-derived 0.18.52.86 is not a host address of 192.168.122.0/24', 'eth0 is not configured by the context; route skipped', 'no NIC is configured'],
  },
  {
    name: 'the network and broadcast addresses are not host addresses',
    ctx: snoozeContext,
    nics: [nic('eth0', '00:16:c0:a8:7a:00'), nic('eth1', '00:16:c0:a8:7a:ff')],
    expect: [],
    notes: ['192.168.122.0 is not a host address', '192.168.122.255 is not a host address'],
  },
  {
    name: 'the legacy rule never gives a NIC the gateway, a nameserver or the context\'s broadcast (issue 10 row 8)',
    ctx: () => {
      const c = snoozeContext();
      c.dns = { ...c.dns, nameservers: ['192.168.122.2'] };
      c.legacySubnet = { network: { address: '192.168.122.0', prefix: 24 }, gateway: '192.168.122.1', broadcast: '192.168.122.127' };
      c.routes = [];
      return c;
    },
    nics: [nic('eth0', '00:16:c0:a8:7a:01'), nic('eth1', '00:16:c0:a8:7a:02'), nic('eth2', '00:16:c0:a8:7a:7f'), nic('eth3', SNOOZE_MAC)],
    expect: ['eth3 static 192.168.122.17/24 brd 192.168.122.127 gw 192.168.122.1 primary'],
    notes: [
      'eth0 (00:16:c0:a8:7a:01): MAC-derived 192.168.122.1 is the gateway of 192.168.122.0/24; left alone',
      'eth1 (00:16:c0:a8:7a:02): MAC-derived 192.168.122.2 is a nameserver of the context; left alone',
      'eth2 (00:16:c0:a8:7a:7f): MAC-derived 192.168.122.127 is the broadcast address of 192.168.122.0/24; left alone',
    ],
  },
  {
    name: 'legacy MAC of the gateway with no other NIC: nothing configured, no address 192.168.122.1',
    ctx: () => ({ ...snoozeContext(), routes: [] }),
    nics: [nic('eth0', '00:16:c0:a8:7a:01')],
    expect: [],
    notes: ['eth0 (00:16:c0:a8:7a:01): MAC-derived 192.168.122.1 is the gateway of 192.168.122.0/24; left alone', 'no NIC is configured by the context'],
  },
  {
    name: 'several legacy matches: all get addresses, only the primary gets the gateway',
    ctx: () => ({ ...snoozeContext(), routes: [] }),
    nics: [nic('eth0', '00:16:c0:a8:7a:11'), nic('eth1', '00:16:c0:a8:7a:12'), nic('eth2', RANDOM_MAC)],
    expect: [
      'eth0 static 192.168.122.17/24 brd 192.168.122.255 gw 192.168.122.1 primary',
      'eth1 static 192.168.122.18/24 brd 192.168.122.255',
    ],
    notes: ['only the primary eth0 gets the default gateway'],
  },
  {
    name: 'broadcast is derived when the context gives none',
    ctx: () => {
      const c = snoozeContext();
      c.legacySubnet = { network: { address: '192.168.0.0', prefix: 16 }, gateway: '192.168.0.1' };
      c.routes = [];
      return c;
    },
    nics: [nic('eth0', SNOOZE_MAC)],
    expect: ['eth0 static 192.168.122.17/16 brd 192.168.255.255 gw 192.168.0.1 primary'],
  },
  {
    name: 'explicit NICs by MAC; the first static one is primary; routes go to the subnet holding the gateway',
    ctx: twoNicContext,
    nics: [nic('ens4', '52:54:00:aa:00:02'), nic('ens3', '52:54:00:aa:00:01')],
    expect: [
      'ens4 dhcp',
      'ens3 static 10.0.0.5/24 brd 10.0.0.255 gw 10.0.0.1 2001:db8::5/64 gw6 2001:db8::1 +172.16.0.0/12>10.0.0.254 +2001:db8:100::/48>2001:db8::fe primary',
    ],
  },
  {
    name: 'an explicit entry wins over the legacy rule for its NIC; legacy still applies to the others and is primary',
    ctx: () => ({
      ...snoozeContext(),
      routes: [],
      nics: [{ match: { kind: 'name', name: 'eth1' }, method: 'static', ipv4: { address: { address: '10.1.0.9', prefix: 24 } } }],
    }),
    nics: [nic('eth0', SNOOZE_MAC), nic('eth1', '00:16:c0:a8:7a:12')],
    expect: ['eth0 static 192.168.122.17/24 brd 192.168.122.255 gw 192.168.122.1 primary', 'eth1 static 10.1.0.9/24 brd 10.1.0.255'],
  },
  {
    name: 'a device name that exists is used as is, even when another NIC is primary',
    ctx: () => ({
      ...snoozeContext(),
      nics: [{ match: { kind: 'name', name: 'eth1' }, method: 'static', ipv4: { address: { address: '10.1.0.9', prefix: 24 } } }],
      routes: [route('add', '10.2.0.0/16', { gateway: '10.1.0.1', device: 'eth1' })],
    }),
    nics: [nic('eth0', SNOOZE_MAC), nic('eth1', RANDOM_MAC)],
    expect: [
      'eth0 static 192.168.122.17/24 brd 192.168.122.255 gw 192.168.122.1 primary',
      'eth1 static 10.1.0.9/24 brd 10.1.0.255 +10.2.0.0/16>10.1.0.1',
    ],
  },
  {
    name: 'a route naming an existing but unconfigured NIC is skipped with a note',
    ctx: () => ({ ...snoozeContext(), routes: [route('add', '10.2.0.0/16', { device: 'eth1' })] }),
    nics: [nic('eth0', SNOOZE_MAC), nic('eth1', RANDOM_MAC)],
    expect: ['eth0 static 192.168.122.17/24 brd 192.168.122.255 gw 192.168.122.1 primary'],
    notes: ['eth1 is not configured by the context; route skipped'],
  },
  {
    name: '"del default" drops every IPv4 gateway and marks every NIC never-default',
    ctx: () => ({
      ...snoozeContext(),
      nics: [{ match: { kind: 'name', name: 'eth1' }, method: 'dhcp' }],
      routes: [route('delete', 'default', { device: 'eth0' })],
    }),
    nics: [nic('eth0', SNOOZE_MAC), nic('eth1', RANDOM_MAC)],
    expect: ['eth0 static 192.168.122.17/24 brd 192.168.122.255 never-default primary', 'eth1 dhcp never-default'],
    notes: ['del default: gateway 192.168.122.1 of eth0 dropped'],
  },
  {
    name: 'deleting a route the context adds cancels both; other deletions go to deleteRoutes',
    ctx: () => ({
      ...snoozeContext(),
      routes: [
        route('add', '10.10.0.0/16', { gateway: '192.168.122.254', device: 'eth0' }),
        route('delete', '10.10.0.0/16', { device: 'eth0' }),
        route('delete', '169.254.0.0/16', { device: 'eth0' }),
      ],
    }),
    nics: [nic('eth0', SNOOZE_MAC)],
    expect: ['eth0 static 192.168.122.17/24 brd 192.168.122.255 gw 192.168.122.1 -169.254.0.0/16 primary'],
    notes: ['is both added and deleted'],
  },
  {
    name: 'an added default route sets the gateway of the NIC holding its subnet',
    ctx: () => ({
      ...emptyContext(),
      nics: [
        { match: { kind: 'name', name: 'eth0' }, method: 'static', ipv4: { address: { address: '10.0.0.5', prefix: 24 }, gateway: '10.0.0.1' } },
        { match: { kind: 'name', name: 'eth1' }, method: 'static', ipv4: { address: { address: '10.9.0.5', prefix: 24 } } },
      ],
      routes: [route('add', 'default', { gateway: '10.9.0.1' })],
    }),
    nics: [nic('eth0', '52:54:00:00:00:01'), nic('eth1', '52:54:00:00:00:02')],
    expect: ['eth0 static 10.0.0.5/24 brd 10.0.0.255 primary', 'eth1 static 10.9.0.5/24 brd 10.9.0.255 gw 10.9.0.1'],
    notes: ['moves the default gateway from eth0 to eth1'],
  },
  {
    name: 'no context NICs and no legacy subnet: nothing configured, every NIC left alone',
    ctx: emptyContext,
    nics: [nic('eth0', RANDOM_MAC)],
    expect: [],
    notes: ['eth0 (52:54:00:12:34:56) is not in the context; left alone'],
  },
  {
    name: 'manual NIC: link only, primary when nothing is static',
    ctx: () => ({ ...emptyContext(), nics: [{ match: { kind: 'mac', mac: RANDOM_MAC }, method: 'manual', mtu: 1400 }] }),
    nics: [nic('eth0', RANDOM_MAC)],
    expect: ['eth0 manual primary'],
  },
  {
    name: 'an interface name unsafe to write is left alone',
    ctx: snoozeContext,
    nics: [nic('eth0 x', SNOOZE_MAC)],
    expect: [],
    notes: ['has a name no backend can write safely'],
  },
];

describe('resolveNetwork', () => {
  it.each(rows)('$name', (row) => {
    const { config, notes } = resolveNetwork(row.ctx(), row.nics);
    expect(config.nics.map(brief)).toEqual(row.expect);
    for (const n of row.notes ?? []) expect(noteTexts(notes).join('\n')).toContain(n);
    expect(config.nics.filter((n) => n.primary).length).toBe(row.expect.length > 0 ? 1 : 0);
  });

  it('keeps one default route per family: an explicit NIC and a Snooze-rule NIC never both get a gateway', () => {
    const ctx = snoozeContext();
    ctx.nics.push({ match: { kind: 'mac', mac: '52:54:00:aa:00:01' }, method: 'static', ipv4: { address: { address: '192.168.122.50', prefix: 24 }, gateway: '192.168.122.1' } });
    const { config, notes } = resolveNetwork(ctx, [nic('eth0', '52:54:00:aa:00:01'), nic('eth1', SNOOZE_MAC)]);
    const gws = config.nics.filter((n) => n.ipv4?.gateway);
    expect(gws).toHaveLength(1);
    expect(gws[0]!.primary).toBe(true);
    expect(noteTexts(notes).join('\n')).toMatch(/gateway 192\.168\.122\.1 dropped: one default route only, kept on/);
  });

  it('passes DNS through untouched', () => {
    const ctx = twoNicContext();
    const { config } = resolveNetwork(ctx, [nic('ens3', '52:54:00:aa:00:01'), nic('ens4', '52:54:00:aa:00:02')]);
    expect(config.dns).toEqual(ctx.dns);
  });

  it('keeps MTU and never renames: names come from the guest', () => {
    const { config } = resolveNetwork(twoNicContext(), [nic('enp1s0', '52:54:00:aa:00:01'), nic('enp2s0', '52:54:00:aa:00:02')]);
    expect(config.nics.map((n) => [n.name, n.mtu])).toEqual([['enp1s0', 9000], ['enp2s0', undefined]]);
  });

  it('throws NicNotFoundError naming the file, the entry, the MAC and the NICs present', () => {
    const err = (() => {
      try {
        resolveNetwork(twoNicContext(), [nic('ens3', '52:54:00:aa:00:01')]);
      } catch (e) {
        return e;
      }
      throw new Error('expected an error');
    })();
    expect(err).toBeInstanceOf(NicNotFoundError);
    expect(err).toBeInstanceOf(ContextError);
    expect((err as Error).message).toBe(
      'common/context.ini: nic 2 = "52:54:00:aa:00:02": no network interface with this MAC in the guest (present: ens3 52:54:00:aa:00:01)',
    );
  });

  it('reports every missing NIC at once, by MAC and by name', () => {
    const ctx = { ...emptyContext(), nics: [
      { match: { kind: 'mac' as const, mac: '52:54:00:00:00:09' }, method: 'dhcp' as const },
      { match: { kind: 'name' as const, name: 'eth7' }, method: 'dhcp' as const },
    ] };
    expect(() => resolveNetwork(ctx, [])).toThrow(/nic 1 = "52:54:00:00:00:09".*\n.*nic 2 = "eth7": no network interface with this name/);
  });

  it('refuses two entries claiming the same NIC (an invalid context, not a missing NIC)', () => {
    const ctx = { ...emptyContext(), nics: [
      { match: { kind: 'mac' as const, mac: RANDOM_MAC }, method: 'dhcp' as const },
      { match: { kind: 'name' as const, name: 'eth0' }, method: 'dhcp' as const },
    ] };
    let err: unknown;
    try {
      resolveNetwork(ctx, [nic('eth0', RANDOM_MAC)]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContextError);
    expect(err).not.toBeInstanceOf(NicNotFoundError);
    expect((err as Error).message).toContain('nic 2 = "eth0": interface eth0 is already configured by nic 1');
  });

  it('does not mutate the context it is given', () => {
    const ctx = snoozeContext();
    ctx.routes.push(route('delete', 'default'));
    const before = JSON.stringify(ctx);
    resolveNetwork(ctx, [nic('eth0', SNOOZE_MAC)]);
    expect(JSON.stringify(ctx)).toBe(before);
  });
});

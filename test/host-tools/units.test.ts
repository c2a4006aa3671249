/** Pure pieces: INI reader, name patterns, pools, route/NIC flag parsing and merging. */
import { describe, expect, it } from 'vitest';
import { parseIni } from '../../host-tools/src/batch/ini.js';
import { expandNamePattern, readInventory } from '../../host-tools/src/batch/inventory.js';
import { allocate, parsePool } from '../../host-tools/src/batch/pool.js';
import { applyContextFlags, parseRouteSpec } from '../../host-tools/src/context-flags.js';
import { emptyContext } from '../../lib/context/model.js';
import { ContextError } from '../../lib/context/errors.js';

describe('inventory INI reader', () => {
  it('keeps line numbers, refuses repeated sections and keys, strips inline comments only after whitespace', () => {
    const { sections, problems } = parseIni(
      '[defaults]\nbridge = br0 ; the bridge\npath = /srv/a;b#c\nq = " spaced ; "\n[vm a]\n[vm a]\nx = 1\n[vm b]\nk = 1\nk = 2\nnonsense\n',
      'inv.ini',
    );
    expect(sections.map((s) => s.header)).toEqual(['defaults', 'vm a', 'vm b']);
    expect(sections[0]!.entries.get('bridge')).toEqual({ value: 'br0', line: 2 });
    expect(sections[0]!.entries.get('path')!.value).toBe('/srv/a;b#c');
    expect(sections[0]!.entries.get('q')!.value).toBe(' spaced ; ');
    expect(problems.map((p) => `${p.key}: ${p.why}`)).toEqual([
      'line 6: section repeated (first at line 5)',
      '[vm b] k: key repeated in section (first at line 9)',
      'line 11: expected "key = value" or "[section]"',
    ]);
  });

  it('expands name patterns', () => {
    expect(expandNamePattern('web{01..03}', 'web', undefined).names).toEqual(['web01', 'web02', 'web03']);
    expect(expandNamePattern('n{8}-x', 'n', 3).names).toEqual(['n8-x', 'n9-x', 'n10-x']);
    expect(expandNamePattern(undefined, 'db', 2).names).toEqual(['db01', 'db02']);
    expect(expandNamePattern('web{01..03}', 'web', 4).why).toContain('count = 4 but the name range gives 3');
    expect(expandNamePattern('web{03..01}', 'web', undefined).why).toContain('backwards');
  });

  it('names the section and key of every bad value', () => {
    const { problems } = readInventory('[defaults]\nmemory = 0\nhypervisor = vmware\npool = 10.0.0.0/33\n[group g]\ncount = 2\naddress = 10.0.0.1\n[thing x]\n', 'i.ini');
    expect(problems.map((p) => p.key)).toEqual(['[thing x]', '[defaults] memory', '[defaults] hypervisor', '[defaults] pool', '[group g] address']);
  });
});

describe('address pools', () => {
  it('parses ranges and networks and allocates first-free', () => {
    const r = parsePool('192.168.1.250-192.168.1.254', '24').pool!;
    expect(allocate(r, 10, new Set(['192.168.1.251']))).toEqual(['192.168.1.250', '192.168.1.252', '192.168.1.253', '192.168.1.254']);
    const n = parsePool('10.0.0.0/30', undefined).pool!;
    expect(allocate(n, 5, new Set())).toEqual(['10.0.0.1', '10.0.0.2']); // network and broadcast skipped
    expect(parsePool('10.0.0.1/24', undefined).why).toContain('host bits set');
    expect(parsePool('10.0.0.1-10.0.1.1', '24').why).toContain('not in the same /24');
    expect(parsePool('10.0.0.1-10.0.0.9', undefined).why).toContain('needs prefix');
  });
});

describe('context flags', () => {
  it('parses route specs strictly', () => {
    expect(parseRouteSpec('default via 10.0.0.1').route).toEqual({ action: 'add', destination: { address: '0.0.0.0', prefix: 0 }, gateway: '10.0.0.1' });
    expect(parseRouteSpec('10.1.0.0/16 dev eth0 metric 5').route).toEqual({ action: 'add', destination: { address: '10.1.0.0', prefix: 16 }, device: 'eth0', metric: 5 });
    expect(parseRouteSpec('del default').route).toEqual({ action: 'delete', destination: { address: '0.0.0.0', prefix: 0 } });
    expect(parseRouteSpec('fd00::/64 via fd00::1').route?.gateway).toBe('fd00::1');
    expect(parseRouteSpec('10.0.0.0/8').why).toContain('needs "via GATEWAY" or "dev DEVICE"');
    expect(parseRouteSpec('10.0.0.0/8 via 010.0.0.1').why).toContain('not an IPv4 address');
    expect(parseRouteSpec('10.0.0.0/8 via 10.0.0.1; reboot').why).toBeDefined();
  });

  it('merges NICs by MAC, attaches the gateway to the matching subnet, keeps the domain first in search', () => {
    const base = emptyContext();
    base.dns = { nameservers: ['1.1.1.1'], search: ['old.example', 'x.example'], domain: 'old.example' };
    const c = applyContextFlags(base, {
      nic: ['52:54:00:00:00:01=10.0.0.5/24', '52-54-00-00-00-01=fd00::5/64', '52:54:00:00:00:02=dhcp', '52:54:00:00:00:03=192.168.9.9/24'],
      gateway: '10.0.0.1',
      domain: 'new.example',
    });
    expect(c.nics).toHaveLength(3);
    expect(c.nics[0]).toMatchObject({ method: 'static', ipv4: { address: { address: '10.0.0.5', prefix: 24 }, gateway: '10.0.0.1' }, ipv6: { address: { address: 'fd00::5', prefix: 64 } } });
    expect(c.nics[2]!.ipv4!.gateway).toBeUndefined();
    expect(c.dns).toEqual({ nameservers: ['1.1.1.1'], search: ['new.example', 'x.example'], domain: 'new.example' });
    expect(base.nics).toEqual([]); // the input model is not mutated
  });

  it('collects every bad flag in one ContextError', () => {
    try {
      applyContextFlags(emptyContext(), { nic: ['nomac'], gateway: '10.0.0.1', dns: ['x'], search: ['-bad-'], postInstallMode: 'always' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ContextError);
      expect((e as ContextError).problems.map((p) => p.key)).toEqual(['--nic', '--gateway', '--dns', '--search', '--post-install-mode']);
    }
  });
});

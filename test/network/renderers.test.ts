/**
 * Renderer properties beyond the goldens: defence-in-depth refusals, output read back by real parsers
 * (js-yaml for netplan, ini for keyfiles and ifcfg), purity, and the ip backend run for real in a
 * throw-away network namespace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import ini from 'ini';
import yaml from 'js-yaml'; // js-yaml ships with xmlbuilder2 (a dependency); used here only as a YAML reader
import { describe, expect, it } from 'vitest';
import { ContextError } from '../../lib/context/errors.js';
import { resolveNetwork } from '../../agent/src/network/resolve.js';
import { DETECTION_ORDER, RENDERERS } from '../../agent/src/network/renderers/index.js';
import { uuidV5 } from '../../agent/src/network/renderers/networkmanager.js';
import type { NetworkConfig } from '../../agent/src/types/network.js';
import { GOLDEN_CASES, SNOOZE_MAC, delDefaultContext, nic, snoozeContext, twoNicContext } from './fixtures.js';
import { tempRoot } from './helpers.js';

const twoNic = (): NetworkConfig =>
  resolveNetwork(twoNicContext(), [nic('ens3', '52:54:00:aa:00:01'), nic('ens4', '52:54:00:aa:00:02')]).config;

/** Ways a bad value could reach a renderer if validation upstream had a bug. */
const POISON: { name: string; dnsOnly?: boolean; poison: (n: NetworkConfig) => void }[] = [
  { name: 'newline in a search domain', dnsOnly: true, poison: (n) => n.dns.search.push('example.org\nDNS=6.6.6.6') },
  { name: 'carriage return in a nameserver', dnsOnly: true, poison: (n) => (n.dns.nameservers[0] = '10.0.0.2\r') },
  { name: 'NUL in a route gateway', poison: (n) => (n.nics[0]!.routes[0]!.gateway = '10.0.0.254\u0000') },
  { name: 'line separator in an address', poison: (n) => (n.nics[0]!.ipv4!.address.address = '10.0.0.5\u2028') },
  { name: 'newline in an interface name', poison: (n) => (n.nics[0]!.name = 'ens3\n[Network]') },
  { name: 'slash in an interface name (path traversal)', poison: (n) => (n.nics[0]!.name = '../../x') },
];

describe('renderers refuse values that could inject a line', () => {
  for (const backend of DETECTION_ORDER) {
    it.each(POISON)(`${backend}: $name`, ({ poison, dnsOnly }) => {
      const net = twoNic();
      poison(net);
      const renderer = RENDERERS[backend];
      if (backend === 'ip' && dnsOnly) {
        // ip writes no DNS: the poisoned value never reaches an argv, so there is nothing to refuse.
        const argv = renderer.render(net).commands.flatMap((c) => c.argv);
        expect(argv.join(' ')).not.toMatch(/[\r\n]/);
        return;
      }
      expect(() => renderer.render(net)).toThrow(ContextError);
      expect(() => renderer.render(net)).toThrow(/refused by the renderer/);
    });
  }

  it('ifcfg refuses shell expansion characters in a double-quoted value', () => {
    const net = twoNic();
    net.dns.search = ['$(reboot)'];
    expect(() => RENDERERS.ifcfg.render(net)).toThrow(/ifcfg-ens3: DOMAIN = "\$\(reboot\)": refused by the renderer: contains a shell quote/);
  });

  it("NetworkManager refuses ';' inside a list element", () => {
    const net = twoNic();
    net.dns.search = ['a;b'];
    expect(() => RENDERERS.networkmanager.render(net)).toThrow(/contains ';'/);
  });
});

describe('output read back by real parsers', () => {
  it('netplan YAML parses to the intended structure, quoted values stay strings', () => {
    const net = twoNic();
    net.dns.search.push('odd: value, [x]'); // not a valid domain, but proves quoting holds
    const [f] = RENDERERS.netplan.render(net).files;
    const doc = yaml.load(f!.content) as { network: { version: number; ethernets: Record<string, Record<string, unknown>> } };
    expect(doc.network.version).toBe(2);
    expect(Object.keys(doc.network.ethernets)).toEqual(['ens3', 'ens4']);
    expect(doc.network.ethernets.ens3).toMatchObject({
      renderer: 'networkd',
      match: { macaddress: '52:54:00:aa:00:01' },
      dhcp4: false,
      addresses: ['10.0.0.5/24', '2001:db8::5/64'],
      nameservers: { addresses: ['10.0.0.2', '2001:db8::2'], search: ['lab.example', 'example.org', 'odd: value, [x]'] },
      mtu: 9000,
    });
    expect(doc.network.ethernets.ens3!.routes).toContainEqual({ to: '172.16.0.0/12', via: '10.0.0.254', metric: 100 });
    expect(doc.network.ethernets.ens4).toMatchObject({ dhcp4: true, match: { macaddress: '52:54:00:aa:00:02' } });
  });

  it('every golden netplan file is valid YAML', () => {
    for (const c of GOLDEN_CASES) {
      const { config } = resolveNetwork(c.ctx, c.nics);
      for (const f of RENDERERS.netplan.render(config).files) expect(() => yaml.load(f.content), c.name).not.toThrow();
    }
  });

  it('NetworkManager keyfile sections and keys read back', () => {
    const files = RENDERERS.networkmanager.render(twoNic()).files;
    const k = ini.parse(files[0]!.content);
    expect(k.connection).toMatchObject({ id: 'contextualization-ens3', type: 'ethernet' });
    expect(k.ethernet['mac-address']).toBe('52:54:00:AA:00:01');
    expect(k.ipv4).toMatchObject({ method: 'manual', address1: '10.0.0.5/24,10.0.0.1', route1: '172.16.0.0/12,10.0.0.254,100' });
    expect(k.ipv6).toMatchObject({ method: 'manual', address1: '2001:db8::5/64,2001:db8::1' });
    expect(files.map((f) => f.mode)).toEqual([0o600, 0o600]);
  });

  it('NetworkManager uuids are RFC 4122 v5, stable per MAC, distinct across MACs', () => {
    const a = uuidV5('nic:52:54:00:aa:00:01');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidV5('nic:52:54:00:aa:00:01')).toBe(a);
    expect(uuidV5('nic:52:54:00:aa:00:02')).not.toBe(a);
  });

  it('ifcfg files are shell assignments a shell reads back as intended', () => {
    const r = tempRoot('ifcfg');
    try {
      const files = RENDERERS.ifcfg.render(twoNic()).files;
      const ifcfg = join(r, 'ifcfg-ens3');
      writeFileSync(ifcfg, files[0]!.content);
      // What network-scripts does: source the file in a shell (here with no other effect than printing).
      const out = execFileSync('sh', ['-c', '. "$1"; printf "%s|%s|%s|%s" "$IPADDR" "$PREFIX" "$GATEWAY" "$DOMAIN"', 'sh', ifcfg], { encoding: 'utf8' });
      expect(out).toBe('10.0.0.5|24|10.0.0.1|lab.example example.org');
    } finally {
      rmSync(r, { recursive: true, force: true });
    }
  });
});

describe('purity', () => {
  it('rendering twice gives identical output and leaves the config untouched', () => {
    for (const backend of DETECTION_ORDER) {
      const net = twoNic();
      const before = JSON.stringify(net);
      const a = RENDERERS[backend].render(net);
      const b = RENDERERS[backend].render(net);
      expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      expect(JSON.stringify(net)).toBe(before);
    }
  });

  it('every file path is inside a directory the backend declares as owned', () => {
    for (const backend of DETECTION_ORDER) {
      const r = RENDERERS[backend];
      for (const f of r.render(twoNic()).files) {
        const owned = r.owned.some((o) => f.path.startsWith(`${o.dir}/${o.prefix}`) && (!o.marker || f.content.includes(o.marker)));
        expect(owned, `${backend}: ${f.path}`).toBe(true);
      }
    }
  });
});

/**
 * The ip backend for real: its argv run by iproute2 inside a new user+network namespace (no root,
 * nothing on the host touched), against veth interfaces named and addressed like the guest's NICs.
 */
function runInNetns(nics: { name: string; mac: string }[], commands: string[][]): {
  failed: { argv: string[]; err: string }[];
  addr: { ifname: string; mtu: number; addr_info: { local: string; prefixlen: number; broadcast?: string }[] }[];
  routes4: { dst: string; gateway?: string; dev: string; metric?: number; scope?: string }[];
  routes6: { dst: string; gateway?: string; dev: string }[];
} {
  const r = tempRoot('netns');
  try {
    const runner = join(r, 'runner.mjs');
    writeFileSync(
      runner,
      `import { execFileSync } from 'node:child_process';
       const { nics, commands } = JSON.parse(process.argv[2]);
       const ip = (...a) => execFileSync('ip', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
       nics.forEach((n, i) => { ip('link', 'add', n.name, 'address', n.mac, 'type', 'veth', 'peer', 'name', 'peer' + i); ip('link', 'set', 'peer' + i, 'up'); });
       ip('link', 'set', 'lo', 'up');
       for (const dev of nics.map((n) => n.name)) ip('link', 'set', dev, 'mtu', '1500'); // veth default, explicit
       const failed = [];
       for (const pass of [1, 2]) // twice: replace semantics must make a re-run succeed
         for (const argv of commands) {
           try { execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }); }
           catch (e) { failed.push({ pass, argv, err: String(e.stderr).trim() }); }
         }
       const j = (...a) => JSON.parse(ip('-j', ...a) || '[]');
       console.log(JSON.stringify({ failed, addr: j('addr', 'show'), routes4: j('route', 'show'), routes6: j('-6', 'route', 'show') }));`,
    );
    const res = spawnSync('unshare', ['--user', '--map-root-user', '--net', process.execPath, runner, JSON.stringify({ nics, commands })], {
      encoding: 'utf8',
    });
    if (res.status !== 0) throw new Error(`netns runner failed (user namespaces needed): ${res.stderr || res.error}`);
    return JSON.parse(res.stdout);
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
}

describe('ip backend in a network namespace', () => {
  it('two NICs: addresses, MTU, routes and both default routes are in place, a re-run included', () => {
    const nics = [nic('ens3', '52:54:00:aa:00:01'), nic('ens4', '52:54:00:aa:00:02')];
    const { config } = resolveNetwork(twoNicContext(), nics);
    const out = RENDERERS.ip.render(config);
    const required = out.commands.filter((c) => c.required).map((c) => c.argv);
    const state = runInNetns(nics, out.commands.map((c) => c.argv));
    const failedRequired = state.failed.filter((f) => required.some((a) => JSON.stringify(a) === JSON.stringify(f.argv)));
    expect(failedRequired).toEqual([]);
    const ens3 = state.addr.find((a) => a.ifname === 'ens3')!;
    expect(ens3.mtu).toBe(9000);
    expect(ens3.addr_info).toContainEqual(expect.objectContaining({ local: '10.0.0.5', prefixlen: 24, broadcast: '10.0.0.255' }));
    expect(ens3.addr_info).toContainEqual(expect.objectContaining({ local: '2001:db8::5', prefixlen: 64 }));
    expect(state.routes4).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3' }));
    expect(state.routes4).toContainEqual(expect.objectContaining({ dst: '172.16.0.0/12', gateway: '10.0.0.254', dev: 'ens3', metric: 100 }));
    expect(state.routes6).toContainEqual(expect.objectContaining({ dst: '2001:db8:100::/48', gateway: '2001:db8::fe', dev: 'ens3' }));
    expect(state.routes6).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '2001:db8::1', dev: 'ens3' }));
  });

  it('Snooze context with del default: the address and on-link route, no default route', () => {
    const nics = [nic('eth0', SNOOZE_MAC), nic('eth1', '52:54:00:00:00:02')];
    const { config } = resolveNetwork(delDefaultContext(), nics);
    const out = RENDERERS.ip.render(config);
    const state = runInNetns(nics, out.commands.map((c) => c.argv));
    const failedArgv = state.failed.map((f) => f.argv.join(' '));
    // Only the harmless deletions of routes that were never there may fail.
    for (const f of failedArgv) expect(f).toMatch(/^ip route del /);
    expect(state.addr.find((a) => a.ifname === 'eth0')!.addr_info).toContainEqual(expect.objectContaining({ local: '192.168.122.17', prefixlen: 24 }));
    expect(state.routes4).toContainEqual(expect.objectContaining({ dst: '10.0.0.0/8', dev: 'eth0', scope: 'link' }));
    expect(state.routes4.some((r) => r.dst === 'default')).toBe(false);
  });

  it('Snooze context on eth0: the MAC-derived address and the gateway', () => {
    const nics = [nic('eth0', SNOOZE_MAC)];
    const { config } = resolveNetwork(snoozeContext(), nics);
    const state = runInNetns(nics, RENDERERS.ip.render(config).commands.map((c) => c.argv));
    expect(state.failed).toEqual([]);
    expect(state.routes4).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '192.168.122.1', dev: 'eth0' }));
    expect(state.routes4).toContainEqual(expect.objectContaining({ dst: '10.10.0.0/16', gateway: '192.168.122.254', dev: 'eth0' }));
  });
});

describe('point-to-point prefixes', () => {
  it('a /32 address gets no broadcast in ip and ifupdown, and its gateway still routes', () => {
    const ctx = {
      ...twoNicContext(),
      nics: [{ match: { kind: 'name' as const, name: 'eth0' }, method: 'static' as const, ipv4: { address: { address: '203.0.113.7', prefix: 32 } } }],
      routes: [],
    };
    const { config } = resolveNetwork(ctx, [nic('eth0', '52:54:00:00:00:07')]);
    const argv = RENDERERS.ip.render(config).commands.map((c) => c.argv.join(' '));
    expect(argv).toContain('ip addr replace 203.0.113.7/32 dev eth0');
    expect(RENDERERS.ifupdown.render(config).files[0]!.content).not.toContain('broadcast');
  });
});

describe('live commands wait for nothing at boot', () => {
  // Before the fix these ran in the local stage before their service existed: networkctl waited out
  // 15 s twice, ifdown/ifup raced networking.service (issue 11 item 2).
  const SERVICE: Record<string, string | undefined> = {
    networkd: 'systemd-networkd.service',
    networkmanager: 'NetworkManager.service',
    ifupdown: 'networking.service',
    ifcfg: 'network.service',
  };
  it.each(GOLDEN_CASES.flatMap((c) => Object.keys(SERVICE).map((b) => [c.name, b] as const)))(
    '%s via %s: every live command requires its service to be active already',
    (caseName, backend) => {
      const c = GOLDEN_CASES.find((g) => g.name === caseName)!;
      const commands = RENDERERS[backend as keyof typeof RENDERERS].render(resolveNetwork(c.ctx, c.nics).config).commands;
      expect(commands.length).toBeGreaterThan(0);
      for (const cmd of commands) {
        expect(cmd.when, cmd.argv.join(' ')).toBe('live');
        expect(cmd.requiresActive, cmd.argv.join(' ')).toBe(SERVICE[backend]);
      }
    },
  );

  it('netplan: only `generate` (writes /run files, applies nothing) runs before networkd; `apply` requires it', () => {
    const cmds = RENDERERS.netplan.render(twoNic()).commands.map((c) => [c.argv.join(' '), c.requiresActive]);
    expect(cmds).toEqual([
      ['netplan generate', undefined],
      ['netplan apply', 'systemd-networkd.service'],
    ]);
  });

  it('ip has no service: its commands are the configuration and run unconditionally', () => {
    expect(RENDERERS.ip.render(twoNic()).commands.every((c) => c.requiresActive === undefined)).toBe(true);
  });
});

/**
 * The networkd renderer checked by the real systemd-networkd: the rendered .network files are put in
 * /run/systemd/network inside a private mount + network namespace (nothing on the host is touched),
 * veth interfaces stand in for the guest's NICs, and networkd configures them. Asserts on the kernel
 * state it produced and on networkd's own parse warnings for our files.
 *
 * Needs root (networkd drops privileges to systemd-network, which a user namespace cannot map) and
 * systemd-networkd installed; elsewhere the suite is skipped and says so.
 */
import { RootFs } from '../../lib/fs/index.js';
import { makeSystemView as viewOf } from '../../agent/src/system/view.js';
/** The agent's SystemView over a fake root, through the in-root layer. */
const makeSystemView = (r: string) => viewOf(new RootFs(r));
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveNetwork } from '../../agent/src/network/resolve.js';
import { RENDERERS } from '../../agent/src/network/renderers/index.js';
import type { SystemNic } from '../../agent/src/types/network.js';
import { GOLDEN_CASES } from './fixtures.js';
import { put, tempRoot } from './helpers.js';
import { planDistroConfig } from '../../agent/src/network/distro/index.js';


const NETWORKD = ['/lib/systemd/systemd-networkd', '/usr/lib/systemd/systemd-networkd'].find((p) => existsSync(p));
const canRun = NETWORKD !== undefined && process.getuid?.() === 0;
if (!canRun) console.warn('networkd-live: skipped (needs root and systemd-networkd)');

interface LiveState {
  log: string;
  addr: { ifname: string; mtu: number; addr_info: { family: string; local: string; prefixlen: number }[] }[];
  routes4: { dst: string; gateway?: string; dev: string; metric?: number; scope?: string }[];
  routes6: { dst: string; gateway?: string; dev: string }[];
}

const RUNNER = `
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, copyFileSync, mkdirSync, readFileSync, chownSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { execSync } from 'node:child_process';
const [networkd, confDir, spec] = process.argv.slice(2);
const { nics, waitFor, extra } = JSON.parse(spec);
const run = (...a) => execFileSync(a[0], a.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
run('mount', '--make-rprivate', '/');
run('mount', '-t', 'tmpfs', 'tmpfs', '/run/systemd');
// A read-only /sys of this namespace: networkd then treats it as a container and does not wait for udev.
run('mount', '-t', 'sysfs', '-o', 'ro', 'sysfs', '/sys');
run('mount', '-t', 'tmpfs', 'tmpfs', '/etc/systemd/network');
mkdirSync('/run/systemd/network'); mkdirSync('/run/systemd/netif');
const uid = Number(run('id', '-u', 'systemd-network').trim()), gid = Number(run('id', '-g', 'systemd-network').trim());
chownSync('/run/systemd/netif', uid, gid);
for (const f of readdirSync(confDir)) copyFileSync(confDir + '/' + f, '/run/systemd/network/' + f);
// Distribution files and our drop-ins, at their own paths (both trees are this namespace's tmpfs).
for (const [path, content] of Object.entries(extra)) { mkdirSync(dirname(path), { recursive: true }); writeFileSync(path, content); }
nics.forEach((n, i) => { run('ip', 'link', 'add', n.name, 'address', n.mac, 'type', 'veth', 'peer', 'name', 'peer' + i); run('ip', 'link', 'set', 'peer' + i, 'up'); });
// Alternative names, as udev's 99-default.link gives every NIC (ens3, enp0s3 beside eth0).
nics.forEach((n) => (n.altnames ?? []).forEach((a) => run('ip', 'link', 'property', 'add', 'dev', n.name, 'altname', a)));
let log = '';
const child = spawn(networkd, [], { env: { ...process.env, SYSTEMD_LOG_TARGET: 'console', SYSTEMD_LOG_LEVEL: 'info' } });
child.stdout.on('data', (d) => (log += d)); child.stderr.on('data', (d) => (log += d));
const j = (...a) => JSON.parse(run('ip', '-j', ...a) || '[]');
const deadline = Date.now() + 10000;
const done = () => waitFor.every((w) => j('route', 'show').some((r) => r.dst === w) || j('-6', 'route', 'show').some((r) => r.dst === w));
while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
await new Promise((r) => setTimeout(r, 300));
const state = { addr: j('addr', 'show'), routes4: j('route', 'show'), routes6: j('-6', 'route', 'show') };
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
console.log(JSON.stringify({ ...state, log }));
`;

function runNetworkd(
  caseName: string,
  nics: (SystemNic & { altnames?: string[] })[],
  waitFor: string[],
  mutate = (content: string) => content,
  extra: Record<string, string> = {},
): LiveState {
  const c = GOLDEN_CASES.find((g) => g.name === caseName)!;
  const { config } = resolveNetwork(c.ctx, nics);
  const dir = tempRoot('networkd');
  try {
    const conf = join(dir, 'conf');
    spawnSync('mkdir', [conf]);
    for (const f of RENDERERS.networkd.render(config).files) writeFileSync(join(conf, f.path.split('/').pop()!), mutate(f.content));
    writeFileSync(join(dir, 'runner.mjs'), RUNNER);
    const res = spawnSync(
      'unshare',
      ['--net', '--mount', process.execPath, join(dir, 'runner.mjs'), NETWORKD!, conf, JSON.stringify({ nics, waitFor, extra })],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (res.status !== 0) throw new Error(`networkd runner failed: ${res.stderr || res.error}`);
    return JSON.parse(res.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** networkd's complaints about our files (unknown keys, unparsable values, ignored sections). */
function parseWarnings(log: string): string[] {
  return log.split('\n').filter((l) => l.includes('contextualization') && /unknown|invalid|failed|ignoring/i.test(l));
}

describe.runIf(canRun)('systemd-networkd applies the rendered files', () => {
  it('two NICs: static IPv4+IPv6, MTU, routes, default routes; the DHCP NIC parses cleanly', () => {
    const nics = [
      { name: 'ens3', mac: '52:54:00:aa:00:01', physical: true },
      { name: 'ens4', mac: '52:54:00:aa:00:02', physical: true },
    ];
    const s = runNetworkd('two-nic', nics, ['172.16.0.0/12', '2001:db8:100::/48']);
    expect(parseWarnings(s.log)).toEqual([]);
    const ens3 = s.addr.find((a) => a.ifname === 'ens3')!;
    expect(ens3.mtu).toBe(9000);
    expect(ens3.addr_info).toContainEqual(expect.objectContaining({ family: 'inet', local: '10.0.0.5', prefixlen: 24 }));
    expect(ens3.addr_info).toContainEqual(expect.objectContaining({ family: 'inet6', local: '2001:db8::5', prefixlen: 64 }));
    expect(s.routes4).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3' }));
    expect(s.routes4).toContainEqual(expect.objectContaining({ dst: '172.16.0.0/12', gateway: '10.0.0.254', dev: 'ens3', metric: 100 }));
    expect(s.routes6).toContainEqual(expect.objectContaining({ dst: '2001:db8:100::/48', gateway: '2001:db8::fe', dev: 'ens3' }));
  });

  it('Snooze on ens3: the MAC-derived address, gateway and the route Snooze said was on eth0', () => {
    const s = runNetworkd('snooze-ens3', [{ name: 'ens3', mac: '00:16:c0:a8:7a:11', physical: true }], ['10.10.0.0/16', 'default']);
    expect(parseWarnings(s.log)).toEqual([]);
    expect(s.addr.find((a) => a.ifname === 'ens3')!.addr_info).toContainEqual(expect.objectContaining({ local: '192.168.122.17', prefixlen: 24 }));
    expect(s.routes4).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '192.168.122.1', dev: 'ens3' }));
    expect(s.routes4).toContainEqual(expect.objectContaining({ dst: '10.10.0.0/16', gateway: '192.168.122.254', dev: 'ens3' }));
  });

  it('control: a key networkd does not know is reported, so the clean runs above mean something', () => {
    const s = runNetworkd('snooze-ens3', [{ name: 'ens3', mac: '00:16:c0:a8:7a:11', physical: true }], ['default'], (c) =>
      c.replace('[Network]\n', '[Network]\nNoSuchKey=1\n'),
    );
    expect(parseWarnings(s.log).join('\n')).toMatch(/10-contextualization-ens3\.network:\d+: Unknown key 'NoSuchKey'/);
  });

  it('del default: on-link route, no default route, [DHCPv4] UseGateway accepted', () => {
    const nics = [
      { name: 'eth0', mac: '00:16:c0:a8:7a:11', physical: true },
      { name: 'eth1', mac: '52:54:00:00:00:02', physical: true },
    ];
    const s = runNetworkd('del-default', nics, ['10.0.0.0/8']);
    expect(parseWarnings(s.log)).toEqual([]);
    expect(s.routes4).toContainEqual(expect.objectContaining({ dst: '10.0.0.0/8', dev: 'eth0', scope: 'link' }));
    expect(s.routes4.some((r) => r.dst === 'default')).toBe(false);
  });
});

describe.runIf(canRun)('systemd-networkd: a distribution catch-all that sorts first stays off the context\'s NICs', () => {
  // As the stock networkd image: a DHCP-style catch-all named before ours. Static here, so its
  // address shows where it applied without a DHCP server in the namespace.
  const CATCHALL = '/run/systemd/network/05-wired.network';
  const CATCHALL_TEXT = '[Match]\nName=ens* eth*\n\n[Network]\nAddress=10.99.0.1/24\n';
  const nics = [
    { name: 'ens3', mac: '52:54:00:aa:00:01', physical: true },
    { name: 'ens4', mac: '52:54:00:aa:00:02', physical: true },
    { name: 'ens9', mac: '52:54:00:aa:00:09', physical: true }, // not in the context
  ];
  const addrs = (s: LiveState, ifname: string): string[] =>
    s.addr.find((a) => a.ifname === ifname)!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);

  it('control: without the drop-in the catch-all wins on ens3 (networkd applies the first matching file)', () => {
    const s = runNetworkd('two-nic', nics, ['10.99.0.0/24'], undefined, { [CATCHALL]: CATCHALL_TEXT });
    expect(addrs(s, 'ens3')).toEqual(['10.99.0.1/24']);
  });

  it('with the planned drop-in: ens3 has only the context\'s address, ens9 (not in the context) keeps the catch-all', () => {
    const root = tempRoot('networkd-distro');
    try {
      put(root, CATCHALL, CATCHALL_TEXT);
      const c = GOLDEN_CASES.find((g) => g.name === 'two-nic')!;
      const { config } = resolveNetwork(c.ctx, nics);
      const plan = planDistroConfig(makeSystemView(root), 'networkd', config, []);
      expect(plan.files.map((f) => f.path)).toEqual(['/etc/systemd/network/05-wired.network.d/99-contextualization.conf']);
      const extra = Object.fromEntries([[CATCHALL, CATCHALL_TEXT], ...plan.files.map((f) => [f.path, f.content])]);
      const s = runNetworkd('two-nic', nics, ['10.99.0.0/24', '172.16.0.0/12'], undefined, extra);
      expect(parseWarnings(s.log)).toEqual([]);
      expect(s.log).not.toMatch(/99-contextualization\.conf:\d+/); // networkd parsed our drop-in without complaint
      expect(addrs(s, 'ens3')).toEqual(['10.0.0.5/24']);
      expect(addrs(s, 'ens9')).toEqual(['10.99.0.1/24']);
      expect(addrs(s, 'ens4')).not.toContain('10.99.0.1/24');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.runIf(canRun)('systemd-networkd: the catch-all stays off a NIC it would match only by an alternative name', () => {
  // The stock image's case (issue 11, seen in the VM suite): eth0 (net.ifnames=0) still has udev's
  // alternative names ens3 and enp0s3, and networkd tests Name= against every one of them.
  const CATCHALL = '/run/systemd/network/05-wired.network';
  const CATCHALL_TEXT = '[Match]\nName=en*\n\n[Network]\nAddress=10.99.0.1/24\n';
  const nics = [
    { name: 'eth0', mac: '52:54:00:aa:00:01', physical: true, altnames: ['ens3', 'enp0s3'] },
    { name: 'ens4', mac: '52:54:00:aa:00:02', physical: true },
    { name: 'ens9', mac: '52:54:00:aa:00:09', physical: true }, // not in the context
  ];
  const addrs = (s: LiveState, ifname: string): string[] =>
    s.addr.find((a) => a.ifname === ifname)!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);

  it('control: a drop-in naming only the kernel name leaves the catch-all winning on eth0', () => {
    const dropin = '/etc/systemd/network/05-wired.network.d/99-contextualization.conf';
    const s = runNetworkd('two-nic', nics, ['10.99.0.0/24'], undefined, { [CATCHALL]: CATCHALL_TEXT, [dropin]: '[Match]\nName=!eth0 ens4\n' });
    expect(addrs(s, 'eth0')).toEqual(['10.99.0.1/24']);
  });

  it('the planned drop-in (names from the udev database) keeps it off eth0; ens9 keeps the catch-all', () => {
    const root = tempRoot('networkd-altnames');
    try {
      put(root, CATCHALL, CATCHALL_TEXT);
      put(root, '/sys/class/net/eth0/ifindex', '7\n');
      put(root, '/run/udev/data/n7', 'I:1234\nE:ID_NET_NAME_MAC=enx525400aa0001\nE:ID_NET_NAME_PATH=enp0s3\nE:ID_NET_NAME_SLOT=ens3\nG:systemd\n');
      const c = GOLDEN_CASES.find((g) => g.name === 'two-nic')!;
      const { config } = resolveNetwork(c.ctx, nics);
      const plan = planDistroConfig(makeSystemView(root), 'networkd', config, []);
      expect(plan.files.map((f) => f.path)).toEqual(['/etc/systemd/network/05-wired.network.d/99-contextualization.conf']);
      expect(plan.files[0]!.content).toContain('Name=!eth0 enp0s3 ens3 ens4\n');
      expect(plan.files[0]!.content).toContain('Property=!ID_NET_NAME_MAC=enx525400aa0001\n');
      const extra = Object.fromEntries([[CATCHALL, CATCHALL_TEXT], ...plan.files.map((f) => [f.path, f.content])]);
      const s = runNetworkd('two-nic', nics, ['10.99.0.0/24', '172.16.0.0/12'], undefined, extra);
      expect(s.log).not.toMatch(/99-contextualization\.conf:\d+/); // networkd parsed the drop-in without complaint
      expect(addrs(s, 'eth0')).toEqual(['10.0.0.5/24']);
      expect(addrs(s, 'ens9')).toEqual(['10.99.0.1/24']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

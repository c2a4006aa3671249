/**
 * The distribution's own configuration for the context's NICs, on roots laid out as installers and
 * cloud images leave them (distro-fixtures.ts): goldens of the planned edits, then the whole cycle the
 * planner drives (render + edits, foreign files spared, stale files removed), applied to the root:
 * a second run changes nothing, and a run without the NICs (DHCP fallback) restores every file byte
 * for byte. UPDATE_GOLDEN=1 regenerates test/network/golden/distro/.
 */
import { RootFs } from '../../lib/fs/index.js';
import { makeSystemView as viewOf } from '../../agent/src/system/view.js';
/** The agent's SystemView over a fake root, through the in-root layer. */
const makeSystemView = (r: string) => viewOf(new RootFs(r));
import { lstatSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planDistroConfig, distroConfigures } from '../../agent/src/network/distro/index.js';
import { DISABLED, globMatch, restoreOriginal } from '../../agent/src/network/distro/marks.js';
import { disableStanzas } from '../../agent/src/network/distro/ifupdown.js';
import { mayMatch } from '../../agent/src/network/distro/networkd.js';
import { findBackendFiles } from '../../agent/src/network/owned.js';
import { RENDERERS } from '../../agent/src/network/renderers/index.js';
import { resolveNetwork } from '../../agent/src/network/resolve.js';
import type { PlannedFile } from '../../agent/src/types/plan.js';
import type { BackendName, NetworkConfig, ResolvedNic } from '../../agent/src/types/network.js';
import { DEBIAN_INSTALLER_INTERFACES, DISTRO_CASES } from './distro-fixtures.js';
import { expectGolden, link, put, tempRoot } from './helpers.js';
import { nic, snoozeContext, SNOOZE_MAC } from './fixtures.js';

const GOLDEN = join(import.meta.dirname, 'golden', 'distro');
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** Every regular file under root (symlinks as "-> target"), for before/after comparisons. */
function snapshot(root: string, dir = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(root, dir))) {
    const rel = dir ? `${dir}/${name}` : name;
    const st = lstatSync(join(root, rel));
    if (st.isDirectory()) Object.assign(out, snapshot(root, rel));
    else out[rel] = st.isSymbolicLink() ? '-> link' : readFileSync(join(root, rel), 'utf8');
  }
  return out;
}

/**
 * What the planner does with a backend's output and the distribution edits (the integration the lead
 * wires in plan/planner.ts): rendered files over foreign paths dropped, edits merged after that and
 * replacing rendered files of the same path, stale owned files removed. Returns the planned files.
 */
function runCycle(root: string, backend: BackendName, net: NetworkConfig): PlannedFile[] {
  const sys = makeSystemView(root);
  const renderers = Object.values(RENDERERS);
  const { owned, foreign } = findBackendFiles(new RootFs(root), renderers);
  const rendered = RENDERERS[backend].render(net).files;
  const distro = planDistroConfig(sys, backend, net, rendered);
  const edited = new Set(distro.files.map((f) => f.path));
  const files = [...rendered.filter((f) => !foreign.includes(f.path) && !edited.has(f.path)), ...distro.files];
  const keep = new Set(files.map((f) => f.path));
  for (const p of owned) if (!keep.has(p)) rmSync(join(root, p));
  for (const f of files) put(root, f.path, f.content);
  return distro.files;
}

const configOf = (c: (typeof DISTRO_CASES)[number]): NetworkConfig => resolveNetwork(c.ctx(), c.nics).config;

describe.each(DISTRO_CASES)('distribution configuration: $name', (c) => {
  const fresh = (): string => {
    const r = tempRoot('distro');
    roots.push(r);
    c.build(r);
    return r;
  };

  it('plans the expected edits (golden)', () => {
    const r = fresh();
    const net = configOf(c);
    const plan = planDistroConfig(makeSystemView(r), c.backend, net, RENDERERS[c.backend].render(net).files);
    const actual: Record<string, string> = {
      'plan.txt': `${[...plan.files.map((f) => `file ${f.path} mode ${f.mode.toString(8).padStart(4, '0')}: ${f.reason}`), ...plan.notes.map((n) => `note ${n.level} ${n.text}`)].join('\n')}\n`,
    };
    for (const f of plan.files) actual[`root${f.path}`] = f.content;
    expect(plan.files.length).toBeGreaterThan(0);
    expectGolden(join(GOLDEN, c.name), actual);
  });

  it('applied: a second run plans nothing new; falling back to DHCP restores every file byte for byte', () => {
    const r = fresh();
    const before = snapshot(r);
    const net = configOf(c);
    runCycle(r, c.backend, net);
    const applied = snapshot(r);
    expect(applied).not.toEqual(before);

    const again = planDistroConfig(makeSystemView(r), c.backend, net, RENDERERS[c.backend].render(net).files);
    for (const f of again.files) expect(f.content, `${f.path} changes on a second run`).toBe(applied[f.path.slice(1)]);

    runCycle(r, c.backend, { nics: [], dns: net.dns });
    expect(snapshot(r)).toEqual(before);
  });

  it('another backend taking over restores this one\'s edits', () => {
    const r = fresh();
    const before = snapshot(r);
    const net = configOf(c);
    runCycle(r, c.backend, net);
    runCycle(r, 'ip', net);
    expect(snapshot(r)).toEqual(before);
  });
});

describe('only the NICs the context configures', () => {
  it('ifupdown: eth1 keeps all its lines, `auto lo eth0 eth1` keeps lo and eth1 active', () => {
    const r = tempRoot('distro');
    roots.push(r);
    DISTRO_CASES[0]!.build(r);
    runCycle(r, 'ifupdown', configOf(DISTRO_CASES[0]!));
    const cloud = readFileSync(join(r, 'etc/network/interfaces.d/50-cloud-init'), 'utf8');
    const active = cloud.split('\n').filter((l) => !l.startsWith('#'));
    expect(active).toContain('iface eth1 inet dhcp');
    expect(active).toContain('auto lo eth1');
    expect(active.join('\n')).not.toMatch(/eth0/);
    expect(readFileSync(join(r, 'etc/network/interfaces.d/60-eth1-extra'), 'utf8')).toBe('iface eth1 inet6 auto\n');
    const main = readFileSync(join(r, 'etc/network/interfaces'), 'utf8').split('\n').filter((l) => !l.startsWith('#'));
    expect(main).toEqual(['', 'source /etc/network/interfaces.d/*', '', 'auto lo', 'iface lo inet loopback', '', '']);
  });

  it('ifupdown: a stanza that is not ours ends the disabled block (options stay with their own iface)', () => {
    const { text, hits } = disableStanzas('iface eth0 inet dhcp\n  hostname a\nmapping eth2\n  script x\niface eth1 inet manual\n  mtu 9000\n', new Set(['eth0']));
    expect(hits).toEqual(['eth0']);
    expect(text.split('\n').filter((l) => !l.startsWith('#'))).toEqual(['mapping eth2', '  script x', 'iface eth1 inet manual', '  mtu 9000', '']);
    expect(restoreOriginal(text)).toBe('iface eth0 inet dhcp\n  hostname a\nmapping eth2\n  script x\niface eth1 inet manual\n  mtu 9000\n');
  });

  it('networkd in charge with networking.service still enabled: the ifupdown stanzas for our NIC are disabled too', () => {
    const r = tempRoot('distro');
    roots.push(r);
    put(r, 'etc/network/interfaces', DEBIAN_INSTALLER_INTERFACES);
    const net = resolveNetwork(snoozeContext(), [nic('eth0', SNOOZE_MAC)]).config;
    expect(planDistroConfig(makeSystemView(r), 'networkd', net, []).files).toEqual([]);
    put(r, 'usr/lib/systemd/system/networking.service', '[Service]\n');
    link(r, 'etc/systemd/system/multi-user.target.wants/networking.service', '/usr/lib/systemd/system/networking.service');
    expect(planDistroConfig(makeSystemView(r), 'networkd', net, []).files.map((f) => f.path)).toEqual(['/etc/network/interfaces']);
  });

  it('a file without our NIC is not rewritten at all', () => {
    const r = tempRoot('distro');
    roots.push(r);
    put(r, 'etc/network/interfaces', 'auto lo\niface lo inet loopback\nallow-hotplug eth1\niface eth1 inet dhcp\n');
    const net = resolveNetwork(snoozeContext(), [nic('eth0', SNOOZE_MAC)]).config;
    expect(planDistroConfig(makeSystemView(r), 'ifupdown', net, []).files).toEqual([]);
  });
});

describe('networkd [Match] evaluation', () => {
  const ens3: ResolvedNic = { name: 'ens3', mac: '52:54:00:aa:00:01', method: 'dhcp', routes: [], deleteRoutes: [], primary: true };
  it.each([
    ['[Match]\nName=en* eth*\n', true],
    ['[Match]\nName=eth*\n', false],
    ['[Match]\nName=!ens3\n', false],
    ['[Match]\nName=en*\nName=!ens3\n', false],
    ['[Match]\nName=!eth0\n', true],
    ['[Match]\nName=en*\nName=\n', true],
    ['[Match]\nMACAddress=52:54:00:AA:00:01\n', true],
    ['[Match]\nMACAddress=52:54:00:aa:00:09 52:54:00:aa:00:08\n', false],
    ['[Match]\nType=ether\n', true],
    ['[Match]\nType=wlan\n', false],
    ['[Match]\nKind=bridge\n', false],
    ['[Match]\nDriver=virtio_net\n', true],
    ['[Network]\nDHCP=yes\n', true],
    ['[Match]\nName=ens[0-9]\n', true],
    ['[Match]\nName=ens[!3]\n', false],
  ])('%j matches ens3: %s', (content, expected) => {
    expect(mayMatch(content, ens3)).toBe(expected);
  });

  it('globMatch is fnmatch: ? * [..] and literal dots', () => {
    expect(globMatch('e?s*', 'ens3')).toBe(true);
    expect(globMatch('en.3', 'ens3')).toBe(false);
    expect(globMatch('en.3', 'en.3')).toBe(true);
  });
});

describe('live: the DHCP client the distribution\'s stanza started', () => {
  it('is stopped (gated on networking.service) only where ifupdown left its pid file', () => {
    const r = tempRoot('distro');
    roots.push(r);
    DISTRO_CASES[0]!.build(r);
    const net = configOf(DISTRO_CASES[0]!);
    expect(planDistroConfig(makeSystemView(r), 'ifupdown', net, []).commands).toEqual([]);
    put(r, 'run/dhclient.eth0.pid', '412\n');
    put(r, 'run/dhclient.eth1.pid', '413\n'); // eth1 is not the context's: its client stays
    expect(planDistroConfig(makeSystemView(r), 'ifupdown', net, []).commands).toEqual([
      {
        argv: ['dhclient', '-x', '-pf', '/run/dhclient.eth0.pid', 'eth0'],
        reason: "stop the DHCP client the distribution's stanza started on eth0",
        when: 'live',
        required: false,
        timeoutMs: 30_000,
        requiresActive: 'networking.service',
      },
    ]);
  });
});

describe('ownership of the files the edits leave', () => {
  it('our drop-ins and conf.d file are owned (removed when stale); a taken-over ifcfg file is neither owned nor foreign', () => {
    const r = tempRoot('distro');
    roots.push(r);
    put(r, 'etc/systemd/network/05-wired.network.d/99-contextualization.conf', '[Match]\nName=!ens3\n');
    put(r, 'etc/systemd/network/05-wired.network.d/10-admin.conf', '[Network]\nDNS=1.1.1.1\n');
    put(r, 'etc/NetworkManager/conf.d/99-contextualization.conf', '[main]\n');
    put(r, 'etc/sysconfig/network-scripts/ifcfg-eth0', '# Managed by contextualization: x\nDEVICE="eth0"\n#[contextualization: the distribution\'s original follows, restored when the context no longer configures this NIC]\n#[contextualization disabled] DEVICE=eth0\n');
    put(r, 'etc/sysconfig/network-scripts/ifcfg-eth1', 'DEVICE=eth1\n');
    expect(findBackendFiles(new RootFs(r), Object.values(RENDERERS))).toEqual({
      owned: ['/etc/NetworkManager/conf.d/99-contextualization.conf', '/etc/systemd/network/05-wired.network.d/99-contextualization.conf'],
      foreign: ['/etc/sysconfig/network-scripts/ifcfg-eth1'],
    });
  });
});

describe('distroConfigures (the DHCP fallback needs no file of ours where the distribution brings the NIC up)', () => {
  it('ifupdown: the installer stanza for eth0 counts, eth1 has none', () => {
    const r = tempRoot('distro');
    roots.push(r);
    put(r, 'etc/network/interfaces', DEBIAN_INSTALLER_INTERFACES);
    const sys = makeSystemView(r);
    const eth = (name: string): ResolvedNic => ({ name, mac: SNOOZE_MAC, method: 'dhcp', routes: [], deleteRoutes: [], primary: true });
    expect(distroConfigures(sys, 'ifupdown', eth('eth0'))).toBe(true);
    expect(distroConfigures(sys, 'ifupdown', eth('eth1'))).toBe(false);
    // Still true while the stanza is disabled by us: the fallback restores it.
    put(r, 'etc/network/interfaces', DEBIAN_INSTALLER_INTERFACES.replace('iface eth0 inet dhcp', `${DISABLED}iface eth0 inet dhcp`));
    expect(distroConfigures(sys, 'ifupdown', eth('eth0'))).toBe(true);
  });

  it.each([
    ['networkd-catchall', 'ens3', true], // 05-wired.network Name=en*
    ['networkd-catchall', 'eth7', true],
    ['netplan-cloud-init', 'ens3', true], // 10-netplan-all-en.network
    ['netplan-cloud-init', 'eth0', false],
    ['networkmanager', 'ens3', true], // "Wired connection 1" interface-name=ens3
    ['networkmanager', 'ens5', false],
    ['ifcfg-centos7', 'eth0', true],
    ['ifcfg-centos7', 'eth3', false],
  ] as const)('%s: %s -> %s', (caseName, name, expected) => {
    const c = DISTRO_CASES.find((d) => d.name === caseName)!;
    const r = tempRoot('distro');
    roots.push(r);
    c.build(r);
    const n: ResolvedNic = { name, mac: '52:54:00:77:77:77', method: 'dhcp', routes: [], deleteRoutes: [], primary: true };
    expect(distroConfigures(makeSystemView(r), c.backend, n)).toBe(expected);
  });
});

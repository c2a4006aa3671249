/**
 * Backend detection over fake roots laid out like real images (usrmerge symlinks, systemctl's
 * absolute enablement links), plus the read-only inspections and owned-file discovery.
 */
import { RootFs } from '../../lib/fs/index.js';
import { makeSystemView as viewOf } from '../../agent/src/system/view.js';
/** The agent's SystemView over a fake root, through the in-root layer. */
const makeSystemView = (r: string) => viewOf(new RootFs(r));
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DETECTION_ORDER, detectBackends, pickRenderer } from '../../agent/src/network/renderers/index.js';
import { ifupdown, sourcesInterfacesD } from '../../agent/src/network/renderers/ifupdown.js';
import { ifcfg, isOwnedIfcfg } from '../../agent/src/network/renderers/ifcfg.js';
import { RENDERERS } from '../../agent/src/network/renderers/index.js';
import { findOwnedFiles } from '../../agent/src/network/owned.js';
import { resolveNetwork } from '../../agent/src/network/resolve.js';
import { SNOOZE_MAC, nic, snoozeContext } from './fixtures.js';
import { link, put, tempRoot } from './helpers.js';
import { noteTexts } from '../../agent/src/types/plan.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** An empty usrmerged root: /sbin, /bin, /lib are relative links into /usr as on Debian 12 / Fedora. */
function image(): string {
  const r = tempRoot('detect');
  roots.push(r);
  for (const d of ['sbin', 'bin', 'lib']) {
    put(r, `usr/${d}/.keep`);
    link(r, d, `usr/${d}`);
  }
  put(r, 'etc/systemd/system/.keep');
  return r;
}

/** Install a unit file, and enable it the way systemctl does (absolute symlink in a .wants dir). */
function unit(r: string, name: string, enabled: boolean, target = 'multi-user.target'): void {
  put(r, `usr/lib/systemd/system/${name}`, '[Service]\n');
  if (enabled) link(r, `etc/systemd/system/${target}.wants/${name}`, `/usr/lib/systemd/system/${name}`);
}

const LAYOUTS: { name: string; build: (r: string) => void; expect: string[] }[] = [
  {
    name: 'Ubuntu server: netplan + networkd',
    build: (r) => {
      put(r, 'etc/netplan/50-cloud-init.yaml', 'network: {version: 2}\n');
      put(r, 'usr/sbin/netplan');
      unit(r, 'systemd-networkd.service', true);
    },
    expect: ['netplan', 'networkd', 'ip'],
  },
  {
    name: '/etc/netplan without the netplan binary is not netplan',
    build: (r) => {
      put(r, 'etc/netplan/.keep');
      unit(r, 'systemd-networkd.service', true);
    },
    expect: ['networkd', 'ip'],
  },
  {
    name: 'RHEL 9: NetworkManager enabled, network-scripts dir still present',
    build: (r) => {
      unit(r, 'NetworkManager.service', true);
      put(r, 'etc/sysconfig/network-scripts/readme-ifcfg-rh.txt');
    },
    expect: ['networkmanager', 'ifcfg', 'ip'],
  },
  {
    name: 'NetworkManager installed but disabled, networkd enabled',
    build: (r) => {
      unit(r, 'NetworkManager.service', false);
      unit(r, 'systemd-networkd.service', true);
    },
    expect: ['networkd', 'ip'],
  },
  {
    name: 'a masked unit is not enabled even with a stale wants link',
    build: (r) => {
      unit(r, 'NetworkManager.service', true);
      link(r, 'etc/systemd/system/NetworkManager.service', '/dev/null');
    },
    expect: ['ip'],
  },
  {
    name: 'an enablement link for a unit that is not installed does not count',
    build: (r) => {
      link(r, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service', '/usr/lib/systemd/system/systemd-networkd.service');
    },
    expect: ['ip'],
  },
  {
    name: 'Debian 12: ifupdown, networkd shipped but not enabled',
    build: (r) => {
      put(r, 'etc/network/interfaces', 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n');
      put(r, 'usr/sbin/ifup');
      unit(r, 'systemd-networkd.service', false);
    },
    expect: ['ifupdown', 'ip'],
  },
  {
    name: 'CentOS 7 without NetworkManager: network-scripts',
    build: (r) => {
      put(r, 'etc/sysconfig/network-scripts/ifcfg-lo', 'DEVICE=lo\n');
    },
    expect: ['ifcfg', 'ip'],
  },
  { name: 'nothing at all: the ip fallback', build: () => {}, expect: ['ip'] },
];

describe('detection', () => {
  it.each(LAYOUTS)('$name', ({ build, expect: expected }) => {
    const r = image();
    build(r);
    const sys = makeSystemView(r);
    expect(detectBackends(sys)).toEqual(expected);
    expect(pickRenderer(sys).name).toBe(expected[0]);
  });

  it('an override wins over detection', () => {
    const r = image();
    unit(r, 'NetworkManager.service', true);
    expect(pickRenderer(makeSystemView(r), 'ifupdown').name).toBe('ifupdown');
  });

  it('detection order is the documented one and every backend is registered', () => {
    expect(DETECTION_ORDER).toEqual(['netplan', 'networkmanager', 'networkd', 'ifupdown', 'ifcfg', 'ip']);
    for (const name of DETECTION_ORDER) expect(RENDERERS[name].name).toBe(name);
  });
});

describe('makeSystemView stays inside the root', () => {
  it('resolves an absolute symlink against the root, not the host', () => {
    const r = image();
    // The host has /usr/sbin/ip; the image does not. A link to it must not be followed onto the host.
    link(r, 'usr/sbin/ifup', '/usr/sbin/ip');
    put(r, 'etc/network/interfaces', '');
    const sys = makeSystemView(r);
    expect(sys.exists('/usr/sbin/ifup')).toBe(false);
    expect(ifupdown.detect(sys)).toBe(false);
    put(r, 'usr/sbin/ip');
    expect(sys.exists('/sbin/ifup')).toBe(true);
  });

  it('".." never climbs above the root, and link loops end', () => {
    const r = image();
    put(r, 'etc/hostname', 'guest\n');
    link(r, 'etc/loop', '/etc/loop');
    const sys = makeSystemView(r);
    link(r, 'etc/up', '../../../../../etc');
    expect(sys.readFile('/etc/up/hostname')).toBe('guest\n'); // the climb stops at the root
    expect(sys.readFile('/../../../etc/hostname')).toBeUndefined(); // not a normalised path: refused
    expect(() => new RootFs(r).resolve('/etc/loop')).toThrow(/too many levels of symbolic links/);
    expect(sys.readFile('/etc/loop')).toBeUndefined();
    expect(sys.readFile('/etc')).toBeUndefined(); // a directory is not a readable file
  });
});

describe('inspections', () => {
  const net = resolveNetwork(snoozeContext(), [nic('eth0', SNOOZE_MAC)]).config;

  it('ifupdown: notes a main interfaces file that does not source interfaces.d (its stanzas for our NIC are disabled by the plan, not noted)', () => {
    const r = image();
    put(r, 'etc/network/interfaces', 'auto lo\niface lo inet loopback\nallow-hotplug eth0\niface eth0 inet dhcp\n');
    const notes = ifupdown.inspect!(makeSystemView(r), net);
    expect(noteTexts(notes)).toEqual([
      'ifupdown: /etc/network/interfaces does not "source /etc/network/interfaces.d/*"; /etc/network/interfaces.d/50-contextualization will be ignored',
    ]);
  });

  it.each([
    ['source /etc/network/interfaces.d/*', true],
    ['source interfaces.d/*', true],
    ['source-directory /etc/network/interfaces.d', true],
    ['  source-directory interfaces.d/', true],
    ['# source /etc/network/interfaces.d/*', false],
    ['source /etc/network/interfaces.d/10-other', false],
  ])('sourcesInterfacesD(%j) = %s', (line, expected) => {
    expect(sourcesInterfacesD(`auto lo\n${line}\n`)).toBe(expected);
  });

  it('ifcfg: notes a user-owned ifcfg file, stays quiet about ours', () => {
    const r = image();
    put(r, 'etc/sysconfig/network-scripts/ifcfg-eth0', 'DEVICE=eth0\nBOOTPROTO=dhcp\n');
    expect(ifcfg.inspect!(makeSystemView(r), net)).toEqual([{
      level: 'warn',
      text: 'ifcfg: /etc/sysconfig/network-scripts/ifcfg-eth0 exists and is not managed by contextualization; it must not be overwritten',
      about: '/etc/sysconfig/network-scripts/ifcfg-eth0',
    }]);
    const ours = ifcfg.render(net).files[0]!;
    put(r, ours.path, ours.content);
    expect(ifcfg.inspect!(makeSystemView(r), net)).toEqual([]);
  });

  it('isOwnedIfcfg needs the marker at the start of a line', () => {
    expect(isOwnedIfcfg('# Managed by contextualization: x\nDEVICE="eth0"\n')).toBe(true);
    expect(isOwnedIfcfg('DEVICE=eth0\n')).toBe(false);
    expect(isOwnedIfcfg('DEVICE=eth0 # Managed by contextualization\n')).toBe(false);
  });

  it('findOwnedFiles lists our files only, honouring the ifcfg marker', () => {
    const r = image();
    put(r, 'etc/sysconfig/network-scripts/ifcfg-eth0', 'DEVICE=eth0\n');
    put(r, 'etc/sysconfig/network-scripts/ifcfg-eth1', '# Managed by contextualization: old\nDEVICE="eth1"\n');
    put(r, 'etc/systemd/network/10-contextualization-eth9.network', '');
    put(r, 'etc/systemd/network/99-default.network', '');
    put(r, 'etc/netplan/50-cloud-init.yaml', '');
    expect(findOwnedFiles(new RootFs(r), Object.values(RENDERERS))).toEqual([
      '/etc/sysconfig/network-scripts/ifcfg-eth1',
      '/etc/systemd/network/10-contextualization-eth9.network',
    ]);
  });
});

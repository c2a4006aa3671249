/**
 * [host NAME] sections without a libvirt host (pure parts): the section reader and the placement
 * rules (inventory order, capacity, `host =` pins, a VM stays where the manifest recorded it), and
 * the domain XML for pool volumes, direct kernel boot and the console log, checked with
 * virt-xml-validate. The hosts themselves are exercised in libvirt-e2e.test.ts against a real libvirtd.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../lib/context/errors.js';
import { readInventory } from '../../host-tools/src/batch/inventory.js';
import { placeVms } from '../../host-tools/src/batch/placement.js';
import type { Manifest } from '../../host-tools/src/batch/manifest.js';
import { libvirtDomainXml } from '../../host-tools/src/domain/libvirt.js';
import { tempDir, virtXmlValidate } from './helpers.js';

const empty = (): Manifest => ({ version: 1, seed: '0'.repeat(64), vms: {} });
const record = (host: string) => ({ uuid: '11111111-2222-4333-8444-555555555555', mac: '52:54:00:00:00:01', files: {}, disks: [], host, volumes: [] });

function place(text: string, manifest = empty()) {
  const { inventory, problems } = readInventory(text, 'inv.ini', '/tmp');
  const p = placeVms(inventory, manifest);
  return {
    problems: [...problems, ...p.problems].map(formatProblem),
    hosts: Object.fromEntries(inventory.vms.map((v) => [v.name, p.hostOf.get(v)?.name])),
  };
}

const HOSTS = `[defaults]
bridge = br0
pool = dhcp

[host a]
uri = qemu:///system
pool = images
capacity = 2

[host b]
uri = qemu+ssh://root@kvm2.example/system?keyfile=/etc/ops/id&no_verify=1
pool = images
base_volume = debian12.qcow2
capacity = 3
`;

describe('[host NAME] sections and placement', () => {
  it('fills hosts in inventory order up to their capacity; host = pins a VM', () => {
    const r = place(`${HOSTS}\n[group web]\ncount = 4\n\n[vm db]\nhost = a\n`);
    expect(r.problems).toEqual([]);
    // db's pin takes one of a's two places first.
    expect(r.hosts).toEqual({ web01: 'a', web02: 'b', web03: 'b', web04: 'b', db: 'a' });
  });

  it('pins beyond a host\'s capacity are one line naming the [host] section and its capacity', () => {
    const r = place(`${HOSTS}\n[group web]\ncount = 2\nhost = a\n\n[vm db]\nhost = a\n`);
    expect(r.problems).toEqual(['inv.ini: [host a] capacity = "2": 3 VMs would be on this host ([group web] web01, [group web] web02, [vm db])']);
  });

  it('a VM stays on the host the manifest records, even when the order would put it elsewhere; moving it is refused', () => {
    const m = empty();
    m.vms['web01'] = record('b');
    expect(place(`${HOSTS}\n[group web]\ncount = 2\n`, m).hosts).toEqual({ web01: 'b', web02: 'a' });
    const moved = place(`${HOSTS}\n[vm web01]\nhost = a\n`, m);
    expect(moved.problems).toEqual(['inv.ini: [vm web01] host = "a": web01 is already on [host b] (manifest); a VM is not moved (remove it first)']);
    m.vms['web01'] = record('gone');
    expect(place(`${HOSTS}\n[vm web01]\n`, m).problems[0]).toMatch(/^inv\.ini: \[vm web01\] = "gone": the manifest records this VM on \[host gone\], which the inventory no longer has/);
  });

  it('no room anywhere is one line; every bad host key is its own line', () => {
    expect(place(`${HOSTS}\n[group web]\ncount = 6\n`).problems).toEqual([
      'inv.ini: [host a], [host b]: no host has room for 1 VM(s) (first: [group web] web06); total capacity is 5: raise capacity or add a [host NAME] section',
    ]);
    const r = place(`[defaults]\nbridge = br0\npool = dhcp\n\n[host x]\nuri = not a uri\npool = a/b\ncapacity = 0\nbase_volume = ../etc\nzone = 1\n\n[host y]\n\n[vm v]\nhost = nowhere\n`);
    expect(r.problems).toEqual([
      'inv.ini: [host x] zone = "1": unknown key in a host section (line 10; allowed: uri, pool, capacity, base_volume)',
      'inv.ini: [host x] uri = "not a uri": not a libvirt URI (driver[+transport]://[user@host[:port]]/path)',
      'inv.ini: [host x] pool = "a/b": not a storage pool name (letters, digits, _ . + -)',
      'inv.ini: [host x] base_volume = "../etc": not a volume name (letters, digits, _ . + -)',
      expect.stringMatching(/^inv\.ini: \[host x\] capacity = "0": /),
      "inv.ini: [host y] uri: required: the libvirt URI of the host (qemu:///system, qemu+ssh://root@host/system)",
      "inv.ini: [host y] pool: required: the libvirt storage pool on that host for the VMs' volumes",
      'inv.ini: [vm v] host = "nowhere": no [host NAME] section in the inventory',
    ]);
  });

  it('domain XML with pool volumes, direct kernel boot, a console log and a user-mode NIC validates with libvirt\'s schema', () => {
    const dir = tempDir('cg-hosts-');
    const xml = libvirtDomainXml({
      name: 'web01',
      uuid: '11111111-2222-4333-8444-555555555555',
      memoryMiB: 512,
      vcpus: 1,
      hypervisor: 'qemu',
      guestType: 'hvm',
      disk: { path: 'images/web01.qcow2', format: 'qcow2', volume: { pool: 'images', volume: 'web01.qcow2' } },
      context: { path: '/x/context.iso', bus: 'ide', volume: { pool: 'images', volume: 'web01-context.iso' } },
      nics: [{ mac: '52:54:00:00:00:01', source: { kind: 'user' } }],
      boot: { kernel: '/boot/vmlinuz', initrd: '/boot/initrd.img', cmdline: 'root=/dev/vda console=ttyS0' },
      consoleLog: '/var/log/web01.log',
    });
    expect(xml).toContain('<disk type="volume" device="disk">');
    expect(xml).toContain('<source pool="images" volume="web01.qcow2"/>');
    expect(xml).toContain('<source pool="images" volume="web01-context.iso"/>');
    expect(xml).toContain('<kernel>/boot/vmlinuz</kernel>');
    expect(xml).toContain('<cmdline>root=/dev/vda console=ttyS0</cmdline>');
    expect(xml).toContain('<log file="/var/log/web01.log" append="off"/>');
    expect(xml).toContain('<interface type="user">');
    writeFileSync(join(dir, 'd.xml'), xml);
    virtXmlValidate(join(dir, 'd.xml'));
  });
});

/**
 * Several NICs per VM (`nic2` ... `nic8` keys): each NIC gets its own <interface> in order and its
 * own [nic "MAC"] section in the context; MACs and addresses are unique across every NIC of the
 * batch; a regenerated VM keeps every NIC's MAC and address; the dry run prints what is written.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseContext } from '../../lib/context/index.js';
import { openIso, readAllFiles } from '../../lib/iso9660/index.js';
import { domainFactsFromXml } from '../../host-tools/src/batch/existing.js';
import { cg, snapshot, tempDir, virtXmlValidate } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('cg-nics-');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '64M']);
});

function nicsOf(iso: string): string[] {
  const img = openIso(iso);
  try {
    return parseContext(readAllFiles(img)).nics.map((n) => `${n.match.kind === 'mac' ? n.match.mac : '?'} ${n.ipv4 ? `${n.ipv4.address.address}/${n.ipv4.address.prefix}` : 'dhcp'}`);
  } finally {
    img.close();
  }
}

const INV = `[defaults]
bridge = br0
base_image = base.qcow2
pool = 192.168.10.0/24
gateway = 192.168.10.1
nic2 = bridge=br-storage, pool=10.20.0.10-10.20.0.20, prefix=24
nic3 = network=backup

[group web]
count = 2

[vm db]
nic2 = bridge=br-storage, address=10.20.0.5/24, mac=52:54:00:aa:bb:02
nic3 = none
nic4 = user=yes, address=10.0.2.40/24, mac_mode=ip
`;

describe('contextgen batch: several NICs per VM', () => {
  it('one <interface> per NIC in order, one [nic "MAC"] section each, addresses from each NIC\'s pool; dry run = real run', async () => {
    const out = join(dir, 'out');
    writeFileSync(join(dir, 'inv.ini'), INV);
    const dry = await cg(['batch', 'inv.ini', '-o', out, '--dry-run'], { cwd: dir });
    expect(dry.err).toEqual([]);
    expect(dry.code).toBe(0);
    const r = await cg(['batch', 'inv.ini', '-o', out], { cwd: dir });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const lines: string[] = [];
    for (const name of ['web01', 'web02', 'db']) {
      const xmlFile = join(out, name, 'domain.xml');
      virtXmlValidate(xmlFile);
      const xml = readFileSync(xmlFile, 'utf8');
      const macs = domainFactsFromXml(xml).macs;
      const nics = nicsOf(join(out, name, 'context.iso'));
      // Interfaces in NIC order, and the context configures exactly those MACs.
      expect(nics.map((n) => n.split(' ')[0]).sort()).toEqual([...macs].sort());
      lines.push(`${name} ${macs.map((m) => nics.find((n) => n.startsWith(m))).join(', ')}`);
      if (name !== 'db') expect([...xml.matchAll(/<source (bridge|network)="([^"]+)"/g)].map((m) => m[2])).toEqual(['br0', 'br-storage', 'backup']);
      else expect(xml).toMatch(/<interface type="bridge">[\s\S]*<interface type="bridge">[\s\S]*<interface type="user">/);
    }
    const strip = (l: string) => l.replace(/ [0-9a-f:]{17}/g, ' MAC');
    expect(lines.map(strip)).toEqual([
      'web01 MAC 192.168.10.2/24, MAC 10.20.0.10/24, MAC dhcp',
      'web02 MAC 192.168.10.3/24, MAC 10.20.0.11/24, MAC dhcp',
      'db MAC 192.168.10.4/24, MAC 10.20.0.5/24, MAC 10.0.2.40/24',
    ]);
    expect(lines[2]).toContain('52:54:00:aa:bb:02 10.20.0.5/24');
    expect(lines[2]).toContain('00:16:0a:00:02:28 10.0.2.40/24'); // mac_mode=ip on nic4 (Snooze prefix)
    // The dry run printed every NIC the real run wrote.
    const printed = dry.out.slice(0, -1).map((l) => l.split('\t').filter((c) => c.startsWith('nic')).join(' '));
    expect(printed[0]).toMatch(/^nic2 [0-9a-f:]{17} 10\.20\.0\.10\/24 nic3 [0-9a-f:]{17} dhcp$/);
    // Rebuilt from what was written: domain.xml's interface order, the context's address per MAC.
    const written = ['web01', 'web02', 'db'].map((name) => {
      const macs = domainFactsFromXml(readFileSync(join(out, name, 'domain.xml'), 'utf8')).macs;
      const nics = nicsOf(join(out, name, 'context.iso'));
      const n = name === 'db' ? [2, 4] : [2, 3];
      return macs.slice(1).map((m, i) => `nic${n[i]} ${nics.find((x) => x.startsWith(m))}`).join(' ');
    });
    expect(printed).toEqual(written);

    // --force regenerates: every NIC keeps its MAC and address.
    const before = ['web01', 'web02', 'db'].map((n) => `${readFileSync(join(out, n, 'domain.xml'), 'utf8').match(/address="[^"]+"/g)} ${nicsOf(join(out, n, 'context.iso')).sort()}`);
    writeFileSync(join(dir, 'inv.ini'), INV.replace('[group web]', '[vm extra]\n\n[group web]'));
    const again = await cg(['batch', 'inv.ini', '-o', out, '--force'], { cwd: dir });
    expect(again.err).toEqual([]);
    expect(['web01', 'web02', 'db'].map((n) => `${readFileSync(join(out, n, 'domain.xml'), 'utf8').match(/address="[^"]+"/g)} ${nicsOf(join(out, n, 'context.iso')).sort()}`)).toEqual(before);
  });

  it('MACs and addresses are unique across all NICs of the batch, one line each naming section, key and value', async () => {
    const out = join(dir, 'out-bad');
    writeFileSync(
      join(dir, 'bad.ini'),
      `[defaults]
bridge = br0
base_image = base.qcow2
pool = 192.168.10.0/24

[vm a]
address = 192.168.10.7
mac = 52:54:00:00:00:07
nic2 = bridge=br1, address=192.168.10.7/24, mac=52:54:00:00:00:07

[vm b]
nic2 = bridge=br1, pool=10.9.0.1-10.9.0.1, prefix=24
[vm c]
nic2 = bridge=br1, pool=10.9.0.1-10.9.0.1, prefix=24
[vm d]
nic2 = bridge=br1, vlan=5
nic3 = address=10.1.1.1/24
`,
    );
    const r = await cg(['batch', 'bad.ini', '-o', out], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'contextgen: bad.ini: [vm d] nic2 = "bridge=br1, vlan=5": unknown NIC field vlan (fields: bridge, network, user, address, pool, prefix, mac, mac_mode)',
      'contextgen: bad.ini: [vm d] nic3 = "address=10.1.1.1/24": give exactly one of bridge=BR, network=NAME or user=yes',
      'contextgen: bad.ini: [vm a] nic2 = "192.168.10.7": address already used by [vm a]',
      'contextgen: bad.ini: [vm a] nic2 = "52:54:00:00:00:07": MAC already used by [vm a]',
      'contextgen: bad.ini: [vm c] nic2 = "10.9.0.1-10.9.0.1/24": pool of nic2 exhausted (1 addresses)',
    ]);
    expect(snapshot(dir)['out-bad']).toBeUndefined();
  });
});

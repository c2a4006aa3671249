import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { libvirtDomainXml } from '../../host-tools/src/domain/libvirt.js';
import { xlConfig } from '../../host-tools/src/domain/xl.js';
import { CDROM_TARGET, validateDomainSpec, type DomainSpec } from '../../host-tools/src/domain/spec.js';
import { domainFactsFromXml, domainFactsFromXl } from '../../host-tools/src/batch/existing.js';
import { macToIPv4 } from '../../lib/net/ip.js';
import { writeIso } from '../../lib/iso9660/index.js';
import { cg, snapshot, tempDir, TEMPLATE, virshDefine, virtXmlValidate } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('cg-domain-');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'disk.qcow2'), '16M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'disk.raw'), '16M']);
  // A context without NIC sections: every domain NIC is fine with it (DHCP everywhere).
  writeFileSync(join(dir, 'ctx.iso'), writeIso([{ path: 'common/network', data: Buffer.from('DOMAIN=example.org\n'), mode: 0o644 }], { volumeId: 'CONTEXT' }));
});

const combos: [string, string, string][] = [
  ['kvm', 'ide', 'hvm'],
  ['kvm', 'sata', 'hvm'],
  ['kvm', 'scsi', 'hvm'],
  ['kvm', 'virtio', 'hvm'],
  ['qemu', 'sata', 'hvm'],
  ['qemu', 'virtio', 'hvm'],
  ['xen', 'xen', 'hvm'],
  ['xen', 'ide', 'hvm'],
  ['xen', 'xen', 'pv'],
];

describe('contextgen domain (libvirt XML)', () => {
  it.each(combos)('%s with the ISO on %s (%s) validates with virt-xml-validate and defines on test:///default', async (hv, bus, gt) => {
    const out = join(dir, `${hv}-${bus}-${gt}.xml`);
    const r = await cg(
      ['domain', '--name', `vm-${hv}-${bus}`, '--memory', '512', '--vcpus', '2', '--disk', 'disk.qcow2', '--context', 'ctx.iso',
        '--cdrom-bus', bus, '--hypervisor', hv, '--guest-type', gt, '--nic', 'bridge=br0', '-o', out],
      { cwd: dir },
    );
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(virtXmlValidate(out)).toBeDefined();
    const def = virshDefine(out);
    expect(def.out).toContain(`Domain 'vm-${hv}-${bus}' defined`);
    expect(def.code).toBe(0);
    const xml = readFileSync(out, 'utf8');
    // The context disk: read-only, on the chosen bus, with the guest-visible target the agent probes.
    expect(xml).toContain(`<target dev="${CDROM_TARGET[bus as keyof typeof CDROM_TARGET]}" bus="${bus}"/>`);
    expect(xml).toMatch(/<source file="[^"]*ctx\.iso"\/>\s*<target[^>]*\/>\s*<readonly\/>/);
    const asDisk = bus === 'virtio' || gt === 'pv';
    expect(xml).toContain(asDisk ? '<disk type="file" device="disk">\n      <driver name="qemu" type="raw"/>' : 'device="cdrom"');
    expect(xml).toContain(`<domain type="${hv}">`);
    expect(xml).toContain('<memory unit="MiB">512</memory>');
    expect(xml).toMatch(/<console type="pty">\s*<target type="(serial|xen)" port="0"\/>/);
    const facts = domainFactsFromXml(xml);
    expect(facts.name).toBe(`vm-${hv}-${bus}`);
    // Random MACs sit in the hypervisor's OUI.
    expect(facts.macs[0]).toMatch(hv === 'xen' ? /^00:16:3e:/ : /^52:54:00:/);
    expect(facts.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('escapes hostile-looking but legal values instead of concatenating them', () => {
    const spec: DomainSpec = {
      name: 'web01', uuid: '6695eb01-f6a4-4304-89aa-97f2502e1930', memoryMiB: 256, vcpus: 1, hypervisor: 'kvm', guestType: 'hvm',
      disk: { path: '/srv/a&b <c>.qcow2', format: 'qcow2' }, context: { path: '/srv/ctx]]>.iso', bus: 'sata' },
      nics: [{ mac: '52:54:00:00:00:01', source: { kind: 'bridge', name: 'br0' } }],
    };
    const file = join(dir, 'escaped.xml');
    writeFileSync(file, libvirtDomainXml(spec));
    virtXmlValidate(file);
    const xml = readFileSync(file, 'utf8');
    expect(xml).toContain('/srv/a&amp;b &lt;c&gt;.qcow2');
    expect(xml).toContain('/srv/ctx]]&gt;.iso');
  });

  it('encodes ip= into the MAC with the Snooze prefix by default, or a locally administered one', async () => {
    const out1 = join(dir, 'ip1.xml');
    const out2 = join(dir, 'ip2.xml');
    await cg(['domain', '--name', 'ipmac', '--memory', '256', '--disk', 'disk.qcow2', '--context', 'ctx.iso', '--nic', 'bridge=br0,ip=192.168.122.17', '-o', out1], { cwd: dir });
    await cg(['domain', '--name', 'ipmac', '--memory', '256', '--disk', 'disk.qcow2', '--context', 'ctx.iso', '--nic', 'bridge=br0,ip=192.168.122.17', '--mac-prefix', 'local', '-o', out2], { cwd: dir });
    const m1 = domainFactsFromXml(readFileSync(out1, 'utf8')).macs[0]!;
    const m2 = domainFactsFromXml(readFileSync(out2, 'utf8')).macs[0]!;
    expect(m1).toBe('00:16:c0:a8:7a:11');
    expect(m2).toBe('02:00:c0:a8:7a:11');
    expect(macToIPv4(m1)).toBe('192.168.122.17');
  });

  it('reads the disk format from the image and refuses a wrong --disk-format', async () => {
    const ok = join(dir, 'raw.xml');
    const r1 = await cg(['domain', '--name', 'rawvm', '--memory', '256', '--disk', 'disk.raw', '--context', 'ctx.iso', '-o', ok], { cwd: dir });
    expect(r1.code).toBe(0);
    expect(readFileSync(ok, 'utf8')).toContain('<driver name="qemu" type="raw"/>\n      <source file="' + join(dir, 'disk.raw'));
    const bad = join(dir, 'wrongfmt.xml');
    const r2 = await cg(['domain', '--name', 'rawvm', '--memory', '256', '--disk', 'disk.raw', '--disk-format', 'qcow2', '--context', 'ctx.iso', '-o', bad], { cwd: dir });
    expect(r2.code).toBe(1);
    expect(r2.err.join('\n')).toContain('--disk-format = "qcow2": ');
    expect(existsSync(bad)).toBe(false);
  });

  it('reports every bad value on its own line, exit 1, and writes nothing', async () => {
    const before = snapshot(dir);
    const r = await cg(
      ['domain', '--name', 'bad name!', '--uuid', 'nope', '--memory', '0', '--vcpus', 'x', '--disk', 'missing.qcow2', '--context', 'ctx.iso',
        '--nic', 'bridge=br0,mac=01:00:5e:00:00:01', '--nic', 'bridge=br"0', '--cdrom-bus', 'xen', '-o', 'x.xml'],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    const text = r.err.join('\n');
    for (const key of ['--name', '--uuid', '--memory', '--vcpus', '--disk', '--cdrom-bus']) expect(text).toContain(`${key} = `);
    expect(text).toContain('multicast');
    expect(r.err.filter((l) => l.includes('--nic')).length).toBe(2);
    expect(r.err.every((l) => !l.includes('\n'))).toBe(true);
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses to overwrite without --force and replaces with it', async () => {
    const out = join(dir, 'once.xml');
    const args = ['domain', '--name', 'once', '--memory', '256', '--disk', 'disk.qcow2', '--context', 'ctx.iso', '-o', out];
    expect((await cg(args, { cwd: dir })).code).toBe(0);
    const first = readFileSync(out, 'utf8');
    const again = await cg(args, { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.err[0]).toContain('output exists; use --force to overwrite');
    expect(readFileSync(out, 'utf8')).toBe(first);
    expect((await cg([...args, '--force'], { cwd: dir })).code).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toBe(first); // a new random UUID
  });
});

describe('contextgen domain --format xl', () => {
  it('writes the xl disk/vif lists with strict quoting', async () => {
    const out = join(dir, 'vm.cfg');
    const r = await cg(['domain', '--name', 'xenvm', '--uuid', '6695EB01-F6A4-4304-89AA-97F2502E1930', '--memory', '1024', '--vcpus', '2', '--disk', 'disk.qcow2',
      '--context', 'ctx.iso', '--format', 'xl', '--nic', 'bridge=xenbr0,mac=00:16:3e:01:02:03', '-o', out], { cwd: dir });
    expect(r.code).toBe(0);
    const cfg = readFileSync(out, 'utf8');
    expect(cfg).toContain('name = "xenvm"\n');
    expect(cfg).toContain('uuid = "6695eb01-f6a4-4304-89aa-97f2502e1930"\n');
    expect(cfg).toContain('type = "hvm"\n');
    expect(cfg).toContain('memory = 1024\nvcpus = 2\n');
    expect(cfg).toContain(`disk = [ 'format=qcow2, vdev=xvda, access=rw, target=${join(dir, 'disk.qcow2')}', 'format=raw, vdev=xvdb, access=ro, devtype=cdrom, target=${join(dir, 'ctx.iso')}' ]`);
    expect(cfg).toContain("vif = [ 'mac=00:16:3e:01:02:03, bridge=xenbr0' ]");
    expect(cfg).toContain("serial = 'pty'");
    expect(domainFactsFromXl(cfg)).toEqual({ uuid: '6695eb01-f6a4-4304-89aa-97f2502e1930', macs: ['00:16:3e:01:02:03'] });
    // Every line is `key = value` with balanced quotes: nothing a value could break out of.
    for (const line of cfg.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-z_]+ = /);
      expect((line.match(/'/g) ?? []).length % 2).toBe(0);
      expect((line.match(/"/g) ?? []).length % 2).toBe(0);
    }
  });

  it('refuses quotes in paths and libvirt-only options', async () => {
    const r = await cg(['domain', '--name', 'xenvm', '--memory', '256', '--disk', "/srv/it's.qcow2", '--context', 'ctx.iso', '--format', 'xl',
      '--nic', 'network=default', '--no-check-paths', '-o', join(dir, 'bad.cfg')], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain('--disk = "/srv/it\'s.qcow2": path contains a quote or backslash');
    expect(r.err.join('\n')).toContain('xl config takes bridges only');
    expect(existsSync(join(dir, 'bad.cfg'))).toBe(false);
  });

  it('the emitter itself throws on a value it cannot quote (defence in depth)', () => {
    const spec: DomainSpec = {
      name: 'x', uuid: '6695eb01-f6a4-4304-89aa-97f2502e1930', memoryMiB: 256, vcpus: 1, hypervisor: 'xen', guestType: 'hvm',
      disk: { path: "/a'b", format: 'qcow2' }, context: { path: '/c.iso', bus: 'xen' }, nics: [],
    };
    expect(() => xlConfig(spec)).toThrow(/quote/);
    expect(validateDomainSpec(spec, 'xl', 'f', (k) => k).map((p) => p.key)).toEqual(['disk']);
  });
});

describe('contextgen domain cross-checks the context ISO (issue 12 rows 2 and 6)', () => {
  const dom = (nics: string[], ctx: string, out: string) =>
    ['domain', '--name', 'web01', '--memory', '512', '--disk', 'disk.qcow2', '--context', ctx, ...nics.flatMap((n) => ['--nic', n]), '-o', out];

  it('the shipped template, filled the Snooze way, works as is with an IP-encoded MAC: no error, no warning', async () => {
    expect((await cg(['iso', '-o', 'plain.iso', '--from', TEMPLATE], { cwd: dir })).code).toBe(0);
    const r = await cg(dom(['bridge=br0,ip=192.168.122.17'], 'plain.iso', 'plain.xml'), { cwd: dir });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('refuses a context whose [nic] names a MAC the domain lacks, in one line; warns on a NIC the context leaves out', async () => {
    expect((await cg(['iso', '-o', 'nic.iso', '--from', TEMPLATE, '--nic', '52:54:00:12:34:56=192.168.122.17/24'], { cwd: dir })).code).toBe(0);
    const before = snapshot(dir);
    const r = await cg(dom(['bridge=br0,mac=00:16:c0:A8:7a:11'], 'nic.iso', 'trap.xml'), { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'contextgen: nic.iso: common/context.ini: [nic "52:54:00:12:34:56"] = "52:54:00:12:34:56": no NIC of domain web01 has this MAC (its MACs: 00:16:c0:a8:7a:11); the agent would refuse the whole context',
    ]);
    expect(snapshot(dir)).toEqual(before);
    const ok = await cg(dom(['bridge=br0,mac=52:54:00:12:34:56', 'bridge=br1,mac=52:54:00:00:00:09'], 'nic.iso', 'two.xml'), { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.err).toEqual([
      'contextgen: warning: nic.iso: common/context.ini: domain web01 NIC 52:54:00:00:00:09 has no [nic] section and no legacy-rule address in the context; the agent will not configure it',
    ]);
  });

  it('refuses a --context that is not an ISO (a qcow2 disk, a FIFO)', async () => {
    const r = await cg(dom(['bridge=br0'], 'disk.qcow2', 'x.xml'), { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^contextgen: <command line>: --context = "disk\.qcow2": not an ISO 9660 image \(/);
    execFileSync('mkfifo', [join(dir, 'pipe.iso')]);
    const f = await cg(dom(['bridge=br0'], 'pipe.iso', 'x.xml'), { cwd: dir });
    expect(f.err).toEqual(['contextgen: <command line>: --context = "pipe.iso": not a regular file']);
    expect(existsSync(join(dir, 'x.xml'))).toBe(false);
  });
});

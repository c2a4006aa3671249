import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseContext } from '../../lib/context/index.js';
import { openIso, readAllFiles } from '../../lib/iso9660/index.js';
import { domainFactsFromXml } from '../../host-tools/src/batch/existing.js';
import { readInventory } from '../../host-tools/src/batch/inventory.js';
import { planBatch } from '../../host-tools/src/batch/plan.js';
import { writeBatch } from '../../host-tools/src/batch/write.js';
import { cg, hasDiskPattern, qemuImgInfo, snapshot, sshPublicKey, tempDir, TEMPLATE, virtXmlValidate, writeDiskPattern } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('cg-batch-');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '64M']);
  writeFileSync(join(dir, 'id.pub'), `${sshPublicKey('ops@example')}\n`);
  writeFileSync(join(dir, 'setup.sh'), '#!/bin/bash\ntouch /root/ready\n');
});

function contextOf(iso: string) {
  const img = openIso(iso);
  try {
    return parseContext(readAllFiles(img));
  } finally {
    img.close();
  }
}

const DEFAULTS = (extra = '') => `; inventory for tests
[defaults]
bridge = virbr0
base_image = base.qcow2
memory = 512
vcpus = 1
pool = 192.168.122.0/24
gateway = 192.168.122.1
dns = 192.168.122.2
domain = lab.example
template = ${TEMPLATE}
ssh_key = id.pub
post_install = setup.sh
${extra}
`;

const GOOD = `${DEFAULTS()}
[vm db01]
address = 192.168.122.3
mac = 52:54:00:de:ad:01
uuid = 11111111-2222-4333-8444-555555555555
memory = 2048
vcpus = 2
cdrom_bus = virtio

[vm mail]
mac_mode = ip
mac_prefix = local

[vm legacy]
mac_mode = ip

[vm cache]
cdrom_bus = ide
hypervisor = qemu

[group web]
count = 16
name = web{01..16}
cdrom_bus = scsi
`;

describe('contextgen batch: 20 VMs', () => {
  it('writes ISO + XML + overlay per VM; everything unique, valid and read back', async () => {
    writeFileSync(join(dir, 'good.ini'), GOOD);
    const out = join(dir, 'out');
    const r = await cg(['batch', 'good.ini', '-o', out, '--mtime', '1700000000'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]); // the shipped template binds no NIC to an example MAC
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(new RegExp(`^batch: 20 VMs, 60 files in ${out} \\(`));

    const names = readdirSync(out).filter((n) => n !== '.contextgen.json').sort();
    expect(names).toEqual(['cache', 'db01', 'legacy', 'mail', ...Array.from({ length: 16 }, (_, i) => `web${String(i + 1).padStart(2, '0')}`)].sort());
    const macs = new Set<string>();
    const uuids = new Set<string>();
    const addrs = new Map<string, string>();
    for (const name of names) {
      const vmDir = join(out, name);
      expect(readdirSync(vmDir).sort()).toEqual(['context.iso', 'domain.xml', 'overlay.qcow2']);
      virtXmlValidate(join(vmDir, 'domain.xml'));
      const facts = domainFactsFromXml(readFileSync(join(vmDir, 'domain.xml'), 'utf8'));
      expect(facts.name).toBe(name);
      const ctx = contextOf(join(vmDir, 'context.iso'));
      expect(ctx.hostname).toBe(name);
      expect(ctx.instanceId).toBe(facts.uuid);
      expect(ctx.nics).toHaveLength(1);
      const nic = ctx.nics[0]!;
      expect(nic.match).toEqual({ kind: 'mac', mac: facts.macs[0] });
      expect(nic.ipv4?.gateway).toBe('192.168.122.1');
      expect(ctx.dns.nameservers).toEqual(['192.168.122.2']);
      expect(ctx.dns.search[0]).toBe('lab.example');
      expect(ctx.authorizedKeys).toHaveLength(1);
      expect(ctx.postInstall?.script).toBe('#!/bin/bash\ntouch /root/ready\n');
      macs.add(facts.macs[0]!);
      uuids.add(facts.uuid!);
      addrs.set(name, nic.ipv4!.address.address);
      const info = qemuImgInfo(join(vmDir, 'overlay.qcow2'));
      expect(info['backing-filename']).toBe(join(dir, 'base.qcow2'));
      expect(readFileSync(join(vmDir, 'domain.xml'), 'utf8')).toContain(`<source file="${join(vmDir, 'overlay.qcow2')}"/>`);
    }
    expect(macs.size).toBe(20);
    expect(uuids.size).toBe(20);
    expect(new Set(addrs.values()).size).toBe(20);
    // Allocation: first free in inventory order, skipping the gateway (.1), DNS (.2) and db01's fixed .3.
    expect(addrs.get('db01')).toBe('192.168.122.3');
    expect(addrs.get('mail')).toBe('192.168.122.4');
    expect(addrs.get('legacy')).toBe('192.168.122.5');
    expect(addrs.get('cache')).toBe('192.168.122.6');
    expect(addrs.get('web01')).toBe('192.168.122.7');
    expect(addrs.get('web16')).toBe('192.168.122.22');
    // Fixed values and MAC modes.
    const db = readFileSync(join(out, 'db01', 'domain.xml'), 'utf8');
    expect(db).toContain('<uuid>11111111-2222-4333-8444-555555555555</uuid>');
    expect(db).toContain('<mac address="52:54:00:de:ad:01"/>');
    expect(db).toContain('<memory unit="MiB">2048</memory>');
    expect(db).toContain('<target dev="vdb" bus="virtio"/>');
    expect(readFileSync(join(out, 'mail', 'domain.xml'), 'utf8')).toContain('<mac address="02:00:c0:a8:7a:04"/>');
    expect(readFileSync(join(out, 'legacy', 'domain.xml'), 'utf8')).toContain('<mac address="00:16:c0:a8:7a:05"/>');
    expect(readFileSync(join(out, 'cache', 'domain.xml'), 'utf8')).toMatch(/<domain type="qemu">[\s\S]*<target dev="hdc" bus="ide"\/>/);
    expect(readFileSync(join(out, 'web07', 'domain.xml'), 'utf8')).toContain('<controller type="scsi" index="0" model="virtio-scsi"/>');
    // An independent reader sees the same ISO content.
    const x = tempDir('cg-batch-x-');
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', join(out, 'web07', 'context.iso'), '-extract', '/', join(x, 'iso')], { stdio: 'ignore' });
    expect(readFileSync(join(x, 'iso', 'common', 'context.ini'), 'utf8')).toContain('192.168.122.13/24');

    // Second run: every VM exists -> refused, nothing changes.
    const before = snapshot(out);
    const again = await cg(['batch', 'good.ini', '-o', out], { cwd: dir });
    expect(again.code).toBe(1);
    // One line for the cause (issue 12 row 4), and no spurious "pool exhausted" beside it.
    expect(again.err).toEqual([
      `contextgen: good.ini: [vm db01], [vm mail], [vm legacy] and 17 more: 20 VMs already exist (${out}); use --force to regenerate them (identity and disks are kept) or --contexts-only`,
    ]);
    expect(snapshot(out)).toEqual(before);

    // --force: rewritten in place, each VM keeps its UUID and MAC (identity survives a regeneration).
    const forced = await cg(['batch', 'good.ini', '-o', out, '--force'], { cwd: dir });
    expect(forced.code).toBe(0);
    for (const name of names) {
      const f = domainFactsFromXml(readFileSync(join(out, name, 'domain.xml'), 'utf8'));
      expect(uuids.has(f.uuid!)).toBe(true);
      expect(macs.has(f.macs[0]!)).toBe(true);
    }
  });

  it('finds every collision among 20 VMs, one line each with section/key/value, and writes nothing', async () => {
    const out = join(dir, 'out-bad');
    mkdirSync(join(out, 'keep'), { recursive: true });
    writeFileSync(join(out, 'keep', 'notes'), 'existing content\n');
    const inv = `${DEFAULTS('colour = blue')}
[group web]
name = web{01..15}

[vm web03]
memory = 1024

[vm dupaddr1]
address = 192.168.122.50

[vm dupaddr2]
address = 192.168.122.50

[vm gw]
address = 192.168.122.1

[vm far]
address = 10.9.9.9

[vm mac1]
mac = 52:54:00:00:00:aa

[vm mac2]
mac = 52:54:00:00:00:AA
uuid = 11111111-2222-4333-8444-555555555555

[vm uuid2]
uuid = 11111111-2222-4333-8444-555555555555
memory = lots
`;
    writeFileSync(join(dir, 'bad.ini'), inv);
    const before = snapshot(dir);
    const r = await cg(['batch', 'bad.ini', '-o', out], { cwd: dir });
    expect(r.code).toBe(1);
    const lines = r.err;
    const has = (re: RegExp) => expect(lines.some((l) => re.test(l)), `${re} in:\n${lines.join('\n')}`).toBe(true);
    has(/bad\.ini: \[defaults\] colour = "blue": unknown key/);
    has(/\[vm web03\] = "web03": VM name already used by \[group web\] web03/);
    has(/\[vm dupaddr2\] address = "192\.168\.122\.50": address already used by \[vm dupaddr1\]/);
    has(/\[vm gw\] address = "192\.168\.122\.1": is a gateway or DNS server address/);
    has(/\[vm far\] address = "10\.9\.9\.9": outside the pool subnet 192\.168\.122\.0\/24/);
    has(/\[vm mac2\] mac = "52:54:00:00:00:aa": MAC already used by \[vm mac1\]/);
    has(/\[vm uuid2\] uuid = "11111111-2222-4333-8444-555555555555": UUID already used by \[vm mac2\]/);
    has(/\[vm uuid2\] memory = "lots": must be a whole number of MiB/);
    expect(lines.filter((l) => !l.startsWith('contextgen: bad.ini: ') && !l.startsWith('contextgen: warning: '))).toEqual([]);
    expect(snapshot(dir)).toEqual(before);
  });

  it('detects collisions with VMs already in OUTDIR (address, MAC, UUID) and a file in the way', async () => {
    const out = join(dir, 'out-existing');
    writeFileSync(join(dir, 'a.ini'), `${DEFAULTS()}\n[vm alpha]\naddress = 192.168.122.40\nmac = 52:54:00:00:01:01\nuuid = aaaaaaaa-2222-4333-8444-555555555555\n`);
    expect((await cg(['batch', 'a.ini', '-o', out], { cwd: dir })).code).toBe(0);
    writeFileSync(join(out, 'gamma'), 'a file, not a VM directory\n');
    writeFileSync(
      join(dir, 'b.ini'),
      `${DEFAULTS()}\n[vm beta]\naddress = 192.168.122.40\nmac = 52:54:00:00:01:01\nuuid = aaaaaaaa-2222-4333-8444-555555555555\n[vm gamma]\n`,
    );
    const before = snapshot(out);
    const r = await cg(['batch', 'b.ini', '-o', out], { cwd: dir });
    expect(r.code).toBe(1);
    const text = r.err.join('\n');
    expect(text).toContain(`[vm beta] address = "192.168.122.40": address already used by ${join(out, 'alpha')}`);
    expect(text).toContain(`[vm beta] mac = "52:54:00:00:01:01": MAC already used by ${join(out, 'alpha')}`);
    expect(text).toContain(`[vm beta] uuid = "aaaaaaaa-2222-4333-8444-555555555555": UUID already used by ${join(out, 'alpha')}`);
    expect(text).toContain(`[vm gamma] = "gamma": ${join(out, 'gamma')} is a regular file, not a VM directory; refusing to write through or replace it`);
    expect(snapshot(out)).toEqual(before);
    // Allocation skips addresses taken in OUTDIR too.
    writeFileSync(join(dir, 'c.ini'), `${DEFAULTS('pool = 192.168.122.39-192.168.122.41\nprefix = 24')}\n[vm delta]\n`.replace('pool = 192.168.122.0/24\n', ''));
    const c = await cg(['batch', 'c.ini', '-o', out, '--dry-run'], { cwd: dir });
    expect(c.err.filter((l) => !l.includes('warning'))).toEqual([]);
    expect(c.out[0]).toMatch(/^delta\t192\.168\.122\.39\/24\t/);
  });

  it('reports pool exhaustion once; --dry-run prints the plan and writes nothing', async () => {
    writeFileSync(join(dir, 'small.ini'), `${DEFAULTS('pool = 192.168.122.10-192.168.122.14\nprefix = 24').replace('pool = 192.168.122.0/24\n', '')}\n[group n]\ncount = 8\n`);
    const before = snapshot(dir);
    const r = await cg(['batch', 'small.ini', '-o', join(dir, 'out-small')], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err.filter((l) => !l.includes('warning'))).toEqual([
      'contextgen: small.ini: [defaults] pool: pool exhausted: 8 VMs need an address, 5 free of 5 (first without one: [group n] n06)',
    ]);
    writeFileSync(join(dir, 'fits.ini'), readFileSync(join(dir, 'small.ini'), 'utf8').replace('count = 8', 'count = 5'));
    const snap2 = snapshot(dir);
    const d = await cg(['batch', 'fits.ini', '-o', join(dir, 'out-small'), '--dry-run'], { cwd: dir });
    expect(d.code).toBe(0);
    expect(d.out).toHaveLength(6);
    expect(d.out.slice(0, 5).map((l) => l.split('\t').slice(0, 2).join(' '))).toEqual(['n01 192.168.122.10/24', 'n02 192.168.122.11/24', 'n03 192.168.122.12/24', 'n04 192.168.122.13/24', 'n05 192.168.122.14/24']);
    expect(d.out[5]).toMatch(/^batch: dry run, 5 VMs valid, nothing written/);
    expect(snapshot(dir)).toEqual(snap2);
    expect(before).toBeDefined();
  });

  it('rolls back everything written when a write fails midway (a file appears where a VM dir goes)', async () => {
    const out = join(dir, 'out-rollback');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'keep\n');
    writeFileSync(join(dir, 'rb.ini'), `${DEFAULTS()}\n[group r]\ncount = 10\n`);
    const { inventory } = readInventory(readFileSync(join(dir, 'rb.ini'), 'utf8'), join(dir, 'rb.ini'));
    const plan = await planBatch(inventory, { outDir: out, force: false, existing: [] });
    expect(plan.problems).toEqual([]);
    // After validation, someone creates a file where r07's directory should go (a race, or a full disk).
    writeFileSync(join(out, 'r07'), 'in the way\n');
    const before = snapshot(out);
    await expect(writeBatch(plan.vms, { force: false, outDir: out, concurrency: 2 })).rejects.toThrow(/r07: is a regular file, not a VM directory; refusing to write through it \(VM r07\)/);
    expect(snapshot(out)).toEqual(before);
  });

  it('xl format writes domain.cfg; --define with xl is refused', async () => {
    writeFileSync(join(dir, 'xen.ini'), `${DEFAULTS('format = xl').replace('bridge = virbr0', 'bridge = xenbr0')}\n[group x]\ncount = 3\n`);
    const out = join(dir, 'out-xen');
    const r = await cg(['batch', 'xen.ini', '-o', out], { cwd: dir });
    expect(r.code).toBe(0);
    const cfg = readFileSync(join(out, 'x02', 'domain.cfg'), 'utf8');
    expect(cfg).toContain('name = "x02"');
    expect(cfg).toMatch(/vif = \[ 'mac=00:16:3e:[0-9a-f:]{8}, bridge=xenbr0' \]/);
    expect(cfg).toContain(`target=${join(out, 'x02', 'context.iso')}'`);
    const d = await cg(['batch', 'xen.ini', '-o', join(dir, 'out-xen2'), '--define', '--connect', 'test:///default'], { cwd: dir });
    expect(d.code).toBe(1);
    expect(d.err.join('\n')).toContain('--define uses virsh, which takes libvirt XML');
    expect(existsSync(join(dir, 'out-xen2'))).toBe(false);
  });
});

describe('contextgen batch --define (libvirt test driver, no daemon)', () => {
  it('defines every domain at test:///default', async () => {
    writeFileSync(join(dir, 'def.ini'), `${DEFAULTS()}\n[group d]\ncount = 3\n`);
    const r = await cg(['batch', 'def.ini', '-o', join(dir, 'out-def'), '--define', '--connect', 'test:///default'], { cwd: dir });
    expect(r.err.filter((l) => !l.includes('warning'))).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^batch: 3 VMs, 9 files in .*, 3 defined \(/);
  });

  it('refuses names, MACs and UUIDs of domains libvirt already has', async () => {
    // test:///default always holds domain "test", uuid 6695eb01-..., MAC aa:bb:cc:dd:ee:ff.
    writeFileSync(
      join(dir, 'clash.ini'),
      `${DEFAULTS()}\n[vm test]\n[vm other]\nmac = aa:bb:cc:dd:ee:ff\nuuid = 6695eb01-f6a4-8304-79aa-97f2502e193f\n`,
    );
    const r = await cg(['batch', 'clash.ini', '-o', join(dir, 'out-clash'), '--define', '--connect', 'test:///default'], { cwd: dir });
    expect(r.code).toBe(1);
    const text = r.err.join('\n');
    expect(text).toContain('[vm test] = "test": already exists (libvirt test:///default)');
    expect(text).toContain('[vm other] mac = "aa:bb:cc:dd:ee:ff": MAC already used by libvirt test:///default');
    expect(text).toContain('[vm other] uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f": UUID already used by libvirt test:///default');
    expect(existsSync(join(dir, 'out-clash'))).toBe(false);
  });

  it('an unreachable libvirt URI is an external failure (exit 3) before anything is written', async () => {
    const r = await cg(['batch', 'def.ini', '-o', join(dir, 'out-nolibvirt'), '--define', '--connect', 'qemu+unix:///system?socket=/nonexistent/sock'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.err.at(-1)).toMatch(/^contextgen: virsh -c .* list: /);
    expect(existsSync(join(dir, 'out-nolibvirt'))).toBe(false);
  });
});

describe('contextgen batch never destroys a guest disk (issue 12 row 1)', () => {
  const factsOf = (vmDir: string) => {
    const f = domainFactsFromXml(readFileSync(join(vmDir, 'domain.xml'), 'utf8'));
    return { uuid: f.uuid, mac: f.macs[0], address: contextOf(join(vmDir, 'context.iso')).nics[0]?.ipv4?.address.address };
  };

  it('--force and --contexts-only keep the written disk pattern and the identity; contexts are regenerated', async () => {
    writeFileSync(join(dir, 'disk.ini'), `${DEFAULTS()}\n[group g]\ncount = 3\n`);
    const out = join(dir, 'out-disk');
    expect((await cg(['batch', 'disk.ini', '-o', out], { cwd: dir })).code).toBe(0);
    const disks = ['g01', 'g02', 'g03'].map((n) => join(out, n, 'overlay.qcow2'));
    for (const d of disks) writeDiskPattern(d);
    const identity = ['g01', 'g02', 'g03'].map((n) => factsOf(join(out, n)));

    const forced = await cg(['batch', 'disk.ini', '-o', out, '--force'], { cwd: dir });
    expect(forced.code).toBe(0);
    for (const d of disks) expect(hasDiskPattern(d), d).toBe(true);
    expect(['g01', 'g02', 'g03'].map((n) => factsOf(join(out, n)))).toEqual(identity);

    // The inventory changes (a new DNS server): --contexts-only rewrites contexts, keeps disks and identity.
    writeFileSync(join(dir, 'disk.ini'), `${DEFAULTS().replace('dns = 192.168.122.2', 'dns = 9.9.9.9')}\n[group g]\ncount = 3\n`);
    const ctxOnly = await cg(['batch', 'disk.ini', '-o', out, '--contexts-only'], { cwd: dir });
    expect(ctxOnly.err.filter((l) => !l.includes('warning'))).toEqual([]);
    expect(ctxOnly.code).toBe(0);
    expect(ctxOnly.out[0]).toMatch(/^batch: 3 VMs, 6 files in /);
    for (const d of disks) expect(hasDiskPattern(d), d).toBe(true);
    expect(contextOf(join(out, 'g02', 'context.iso')).dns.nameservers).toEqual(['9.9.9.9']);
    expect(['g01', 'g02', 'g03'].map((n) => factsOf(join(out, n)))).toEqual(identity);
  });

  it('--contexts-only creates no VM; --recreate-disks refuses a running domain and replaces the disk of one that is not', async () => {
    const out = join(dir, 'out-disk');
    writeFileSync(join(dir, 'disk4.ini'), `${DEFAULTS()}\n[group g]\ncount = 4\n`);
    const before = snapshot(out);
    const r = await cg(['batch', 'disk4.ini', '-o', out, '--contexts-only'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err.filter((l) => !l.includes('warning'))).toEqual([
      'contextgen: disk4.ini: [group g] g04 = "g04": not in OUTDIR; --contexts-only regenerates existing VMs only (run without it to create)',
    ]);
    expect(snapshot(out)).toEqual(before);

    // test:///default always has a running domain named "test".
    const tOut = join(dir, 'out-disk-test');
    writeFileSync(join(dir, 'disk-test.ini'), `${DEFAULTS()}\n[vm test]\n[vm other]\n`);
    expect((await cg(['batch', 'disk-test.ini', '-o', tOut], { cwd: dir })).code).toBe(0);
    for (const n of ['test', 'other']) writeDiskPattern(join(tOut, n, 'overlay.qcow2'));
    const running = await cg(['batch', 'disk-test.ini', '-o', tOut, '--recreate-disks', '--connect', 'test:///default'], { cwd: dir });
    expect(running.code).toBe(1);
    expect(running.err.filter((l) => !l.includes('warning'))).toEqual([
      'contextgen: disk-test.ini: [vm test] = "test": domain is running at test:///default; shut it down before --recreate-disks',
    ]);
    expect(hasDiskPattern(join(tOut, 'test', 'overlay.qcow2'))).toBe(true);
    expect(hasDiskPattern(join(tOut, 'other', 'overlay.qcow2'))).toBe(true);
    writeFileSync(join(dir, 'disk-other.ini'), `${DEFAULTS()}\n[vm other]\n`);
    const ok = await cg(['batch', 'disk-other.ini', '-o', tOut, '--recreate-disks', '--connect', 'test:///default'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(hasDiskPattern(join(tOut, 'other', 'overlay.qcow2'))).toBe(false);
    expect(qemuImgInfo(join(tOut, 'other', 'overlay.qcow2'))['backing-filename']).toBe(join(dir, 'base.qcow2'));
  });
});

describe('contextgen batch cross-checks template NICs (issue 12 row 2)', () => {
  it('a template [nic] naming a MAC no VM has is one line naming the template, section, MAC and the VMs\' MACs', async () => {
    const t = join(dir, 'tmpl-nic');
    cpSync(TEMPLATE, t, { recursive: true });
    const ini = join(t, 'common', 'context.ini');
    writeFileSync(ini, readFileSync(ini, 'utf8').replace(/^# (\[nic|method|address|gateway|mtu)/gm, '$1'));
    writeFileSync(join(dir, 'tn.ini'), `${DEFAULTS().replace(`template = ${TEMPLATE}`, `template = ${t}`)}\n[vm a1]\nmac = 52:54:00:00:00:a1\n[group b]\ncount = 4\n`);
    const out = join(dir, 'out-tn');
    const r = await cg(['batch', 'tn.ini', '-o', out, '--dry-run'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(
      new RegExp(`^contextgen: ${ini}: \\[nic "52:54:00:12:34:56"\\] = "52:54:00:12:34:56": no NIC of \\[vm a1\\] \\(52:54:00:00:00:a1\\), \\[group b\\] b01 \\(52:54:00(:[0-9a-f]{2}){3}\\), \\[group b\\] b02 \\(.*\\) and 2 more has this MAC; the agent would refuse the whole context`),
    );
    // The VM that has the MAC gets the section merged (its MTU kept, the batch's address).
    writeFileSync(join(dir, 'tn2.ini'), `${DEFAULTS().replace(`template = ${TEMPLATE}`, `template = ${t}`)}\n[vm own]\nmac = 52:54:00:12:34:56\n`);
    const ok = await cg(['batch', 'tn2.ini', '-o', join(dir, 'out-tn2')], { cwd: dir });
    expect(ok.err).toEqual([]);
    const nic = contextOf(join(dir, 'out-tn2', 'own', 'context.iso')).nics;
    expect(nic).toHaveLength(1);
    expect(nic[0]).toMatchObject({ match: { kind: 'mac', mac: '52:54:00:12:34:56' }, mtu: 1500, ipv4: { address: { address: '192.168.122.3', prefix: 24 } } });
  });
});

describe('contextgen batch: dry run = real run (issue 12 row 3)', () => {
  it('the plan printed by --dry-run is exactly what the real run writes (MACs and UUIDs from the OUTDIR seed)', async () => {
    writeFileSync(join(dir, 'dry.ini'), `${DEFAULTS()}\n[group d]\ncount = 6\n[vm xen1]\nhypervisor = xen\ncdrom_bus = ide\n`);
    const out = join(dir, 'out-dry');
    const dry = await cg(['batch', 'dry.ini', '-o', out, '--dry-run'], { cwd: dir });
    expect(dry.code).toBe(0);
    expect(existsSync(out)).toBe(false);
    const planned = dry.out.slice(0, -1);
    expect(planned).toHaveLength(7);
    const again = await cg(['batch', 'dry.ini', '-o', out, '--dry-run'], { cwd: dir });
    expect(again.out.slice(0, -1)).toEqual(planned);

    expect((await cg(['batch', 'dry.ini', '-o', out], { cwd: dir })).code).toBe(0);
    // The plan line rebuilt from the written files: name, address/prefix, MAC, UUID, directory.
    const written = planned.map((line) => {
      const name = line.split('\t')[0]!;
      const vmDir = join(out, name);
      const f = domainFactsFromXml(readFileSync(join(vmDir, 'domain.xml'), 'utf8'));
      const nic = contextOf(join(vmDir, 'context.iso')).nics[0]!;
      expect(contextOf(join(vmDir, 'context.iso')).instanceId).toBe(f.uuid);
      return [name, `${nic.ipv4!.address.address}/${nic.ipv4!.address.prefix}`, f.macs[0], f.uuid, vmDir].join('\t');
    });
    expect(written).toEqual(planned);
    expect(planned.find((l) => l.startsWith('xen1\t'))).toMatch(/\t00:16:3e:/);

    // A later dry run (--force) still shows the same identities; another OUTDIR draws other MACs and UUIDs.
    const forced = await cg(['batch', 'dry.ini', '-o', out, '--dry-run', '--force'], { cwd: dir });
    expect(forced.out.slice(0, -1)).toEqual(planned.map((l) => `${l}\t(replace)`));
    const other = await cg(['batch', 'dry.ini', '-o', join(dir, 'out-dry-2'), '--dry-run'], { cwd: dir });
    const col = (lines: string[], i: number) => lines.slice(0, -1).map((l) => l.split('\t')[i]);
    expect(col(other.out, 2).filter((m) => col(dry.out, 2).includes(m))).toEqual([]);
    expect(col(other.out, 3).filter((u) => col(dry.out, 3).includes(u))).toEqual([]);
  });

  it('a broken manifest is one line naming it', async () => {
    const out = join(dir, 'out-dry');
    const m = join(out, '.contextgen.json');
    const good = readFileSync(m, 'utf8');
    writeFileSync(m, JSON.stringify({ version: 1, seed: 'xyz' }));
    const r = await cg(['batch', 'dry.ini', '-o', out, '--dry-run', '--force'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(new RegExp(`^contextgen: ${m}: seed: `));
    writeFileSync(m, good);
  });
});

describe('contextgen batch: errors name where the value was written; paths, pools, MACs (issue 12 rows 5-7)', () => {
  it('keys set in [defaults] are blamed on [defaults], naming the VMs they hurt', async () => {
    const inv = DEFAULTS()
      .replace('gateway = 192.168.122.1', 'gateway = 10.9.9.1')
      .replace('base_image = base.qcow2', 'base_image = nope.qcow2')
      .replace('post_install = setup.sh', 'post_install = nope.sh')
      .replace('ssh_key = id.pub', 'ssh_key = nope.pub')
      .replace(`template = ${TEMPLATE}`, 'template = no-such-template');
    writeFileSync(join(dir, 'where.ini'), `${inv}\n[vm db01]\n[vm db02]\n`);
    const r = await cg(['batch', 'where.ini', '-o', join(dir, 'out-where'), '--dry-run'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err.sort()).toEqual([
      `contextgen: where.ini: [defaults] base_image = "${join(dir, 'nope.qcow2')}": base image does not exist`,
      `contextgen: where.ini: [defaults] gateway = "10.9.9.1": not in the VM's subnet 192.168.122.0/24 (for [vm db01], [vm db02])`,
      `contextgen: where.ini: [defaults] post_install = "${join(dir, 'nope.sh')}": cannot read: ENOENT`,
      `contextgen: where.ini: [defaults] ssh_key = "${join(dir, 'nope.pub')}": cannot read: ENOENT`,
      `contextgen: where.ini: [defaults] template = "${join(dir, 'no-such-template')}": directory does not exist`,
    ].sort());
    // The same key written in the VM's own section is blamed on that section.
    writeFileSync(join(dir, 'where2.ini'), `${DEFAULTS()}\n[vm db01]\ngateway = 10.9.9.1\n`);
    const r2 = await cg(['batch', 'where2.ini', '-o', join(dir, 'out-where'), '--dry-run'], { cwd: dir });
    expect(r2.err).toEqual(['contextgen: where2.ini: [vm db01] gateway = "10.9.9.1": not in the VM\'s subnet 192.168.122.0/24']);
  });

  it('iso --hostname web_01 names the flag, not a generated file', async () => {
    const r = await cg(['iso', '-o', join(dir, 'h.iso'), '--hostname', 'web_01'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^contextgen: <command line>: --hostname = "web_01": /);
  });

  it('disk paths must exist (unless --no-check-paths); no pool is an error unless DHCP is chosen', async () => {
    const noOverlay = DEFAULTS().replace('base_image = base.qcow2\n', `disk = ${dir}/disks/{name}.qcow2\n`);
    writeFileSync(join(dir, 'disk-missing.ini'), `${noOverlay}\n[vm a]\n`);
    const r = await cg(['batch', 'disk-missing.ini', '-o', join(dir, 'out-dm'), '--dry-run'], { cwd: dir });
    expect(r.err).toEqual([`contextgen: disk-missing.ini: [defaults] disk = "${dir}/disks/{name}.qcow2": ${dir}/disks/a.qcow2 does not exist (or pass --no-check-paths) (for [vm a])`]);
    expect((await cg(['batch', 'disk-missing.ini', '-o', join(dir, 'out-dm'), '--dry-run', '--no-check-paths'], { cwd: dir })).code).toBe(0);

    const noPool = DEFAULTS().replace('pool = 192.168.122.0/24\n', '');
    writeFileSync(join(dir, 'nopool.ini'), `${noPool}\n[vm a]\n[vm b]\naddress = 192.168.122.9/24\n[vm c]\n`);
    const np = await cg(['batch', 'nopool.ini', '-o', join(dir, 'out-np'), '--dry-run'], { cwd: dir });
    expect(np.err).toEqual(['contextgen: nopool.ini: [defaults] pool: not set, so [vm a], [vm c] would get no address; set pool = A-B or N/P, or choose DHCP with pool = dhcp (or address = dhcp per VM)']);
    writeFileSync(join(dir, 'dhcp.ini'), `${noPool}pool = dhcp\n\n[vm a]\n[vm b]\naddress = 192.168.122.9/24\n`);
    const d = await cg(['batch', 'dhcp.ini', '-o', join(dir, 'out-dhcp')], { cwd: dir });
    expect(d.err).toEqual([]);
    expect(contextOf(join(dir, 'out-dhcp', 'a', 'context.iso')).nics[0]!.method).toBe('dhcp');
    // address = dhcp with a pool: that VM gets no address from it.
    writeFileSync(join(dir, 'vmdhcp.ini'), `${DEFAULTS()}\n[vm a]\naddress = dhcp\n[vm b]\n`);
    const v = await cg(['batch', 'vmdhcp.ini', '-o', join(dir, 'out-vmdhcp'), '--dry-run'], { cwd: dir });
    expect(v.out.slice(0, 2).map((l) => l.split('\t').slice(0, 2).join(' '))).toEqual(['a dhcp', 'b 192.168.122.3/24']);
  });

  it('mac_mode = ip with --define skips an address whose MAC libvirt already has', async () => {
    // test:///default's domain "test" has MAC aa:bb:cc:dd:ee:ff = prefix aa:bb + 204.221.238.255 (a host address in a /23).
    const inv = DEFAULTS()
      .replace('pool = 192.168.122.0/24', 'pool = 204.221.238.255-204.221.239.20\nprefix = 23')
      .replace('gateway = 192.168.122.1', 'gateway = 204.221.238.1')
      .replace('dns = 192.168.122.2', 'dns = 204.221.238.2');
    writeFileSync(join(dir, 'macip.ini'), `${inv}mac_mode = ip\nmac_prefix = aa:bb\n\n[vm m1]\n[vm m2]\n`);
    const r = await cg(['batch', 'macip.ini', '-o', join(dir, 'out-macip'), '--dry-run', '--define', '--connect', 'test:///default'], { cwd: dir });
    expect(r.err).toEqual([]);
    expect(r.out.slice(0, 2).map((l) => l.split('\t').slice(0, 3).join(' '))).toEqual([
      'm1 204.221.239.0/23 aa:bb:cc:dd:ef:00',
      'm2 204.221.239.1/23 aa:bb:cc:dd:ef:01',
    ]);
  });
});

describe('contextgen list / remove over the OUTDIR manifest (issue 12 row 10, part)', () => {
  it('list shows what was made; remove deletes only what contextgen made and undefines, refusing a running domain', async () => {
    writeFileSync(join(dir, 'fleet.ini'), `${DEFAULTS()}\n[group f]\ncount = 3\n[vm test]\n`);
    const out = join(dir, 'out-fleet');
    const dry = await cg(['batch', 'fleet.ini', '-o', out, '--dry-run', '--define', '--connect', 'test:///default', '--force'], { cwd: dir });
    // "test" exists in test:///default, so --force adopts its UUID; the others are new.
    expect(dry.code).toBe(0);
    expect((await cg(['batch', 'fleet.ini', '-o', out, '--define', '--connect', 'test:///default', '--force'], { cwd: dir })).code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, '.contextgen.json'), 'utf8'));
    expect(Object.keys(manifest.vms).sort()).toEqual(['f01', 'f02', 'f03', 'test']);
    expect(manifest.vms.f01.files['context.iso']).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.vms.f01.disks).toEqual(['overlay.qcow2']);

    const l = await cg(['list', '-o', out], { cwd: dir });
    expect(l.code).toBe(0);
    const planned = dry.out.slice(0, -1).map((x) => x.split('\t').slice(0, 4).join('\t')).sort();
    expect(l.out.map((x) => x.split('\t').slice(0, 4).join('\t'))).toEqual(planned);
    expect(l.out[0]!.split('\t')[4]).toBe('test:///default');

    writeFileSync(join(out, 'f02', 'notes.txt'), 'mine\n');
    writeFileSync(join(out, 'f03', 'context.iso'), 'edited by hand\n');
    const r = await cg(['remove', 'f01', 'f02', 'f03', '-o', out], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.err).toEqual([`contextgen: warning: ${join(out, 'f03', 'context.iso')}: changed since contextgen wrote it; kept`]);
    expect(existsSync(join(out, 'f01'))).toBe(false);
    expect(readdirSync(join(out, 'f02'))).toEqual(['notes.txt']);
    expect(readdirSync(join(out, 'f03'))).toEqual(['context.iso']);
    expect((await cg(['list', '-o', out], { cwd: dir })).out.map((x) => x.split('\t')[0])).toEqual(['test']);

    // libvirt's test driver reports its "test" domain running: refused without --force, nothing removed.
    const running = await cg(['remove', 'test', 'nosuch', '-o', out], { cwd: dir });
    expect(running.code).toBe(1);
    expect(running.err).toEqual([
      `contextgen: ${join(out, '.contextgen.json')}: test: domain is running at test:///default; shut it down or pass --force to stop it`,
      `contextgen: ${join(out, '.contextgen.json')}: nosuch: no such VM in the manifest`,
    ]);
    expect(readdirSync(join(out, 'test')).sort()).toEqual(['context.iso', 'domain.xml', 'overlay.qcow2']);
    const forced = await cg(['remove', 'test', '-o', out, '--force'], { cwd: dir });
    expect(forced.err).toEqual([]);
    expect(existsSync(join(out, 'test'))).toBe(false);
    expect((await cg(['list', '-o', out], { cwd: dir })).out).toEqual([]);
  });
});

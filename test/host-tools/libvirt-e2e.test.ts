/**
 * contextgen against a real libvirtd (issue 12, "Tests against a real libvirtd"): the built
 * dist/contextgen places a batch on two [host] sections, one at qemu:///system and one at
 * qemu+ssh://root@127.0.0.1:PORT/system (libvirt's own remote protocol through a local sshd), with
 * the context ISOs and qcow2 overlays as volumes in each host's storage pool. One VM is defined and
 * started by `batch --start`, boots the test guest image under TCG by direct kernel boot, is
 * contextualised by the agent and prints its report on the serial console (logged by libvirt to a
 * file). Regeneration keeps a disk pattern written into the overlay volumes; `remove` leaves no
 * domain, volume or file behind. One guest boot in all.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXTGEN_BIN, makeRunDisk, type RunDisk } from '../vm/images.js';
import { missingPrerequisites, vmGate } from '../vm/prereqs.js';
import { parseReport, REPORT_END } from '../vm/report.js';
import { BOOT_TIMEOUT_MS } from '../vm/qemu.js';
import { hasDiskPattern, writeDiskPattern } from './helpers.js';
import { ensureLibvirtd, startSshd, SYSTEM_URI, virshLines, type Daemons, type Sshd } from './libvirt-host.js';

const tag = `cge2e${process.pid}`;
const POOL_A = `${tag}-a`;
const POOL_B = `${tag}-b`;
/** Domain names are global to the daemon; prefixed so a parallel run or a leftover never collides. */
const vm = (n: string) => `${tag}-${n}`;

async function contextgen(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const r = await execa(CONTEXTGEN_BIN, args, { cwd, reject: false, timeout: 10 * 60_000 });
  return { code: r.exitCode ?? -1, out: r.stdout, err: r.stderr };
}

async function state(name: string): Promise<string | undefined> {
  const r = await execa('virsh', ['-q', '-c', SYSTEM_URI, 'domstate', '--domain', name], { reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

const volPath = async (pool: string, name: string) => (await virshLines(SYSTEM_URI, ['vol-path', '--pool', pool, name]))[0]!;
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const gate = vmGate();
if (!gate.run) console.warn(`\n!!! ${gate.reason} (libvirt end-to-end: real libvirtd, pools, qemu+ssh, one guest boot)\n`);

describe.skipIf(!gate.run)('contextgen on a real libvirtd: pools, two hosts (one over qemu+ssh), --start, remove', () => {
  let work = '';
  let daemons: Daemons | undefined;
  let sshd: Sshd | undefined;
  let disk: RunDisk;
  let volsBefore: Record<string, string[]> = {};
  const out1 = () => join(work, 'out1');
  const out2 = () => join(work, 'out2');

  beforeAll(async () => {
    const missing = missingPrerequisites();
    if (missing.length) throw new Error(`prerequisites missing:\n  ${missing.join('\n  ')}`);
    work = mkdtempSync(join(tmpdir(), 'cg-libvirt-'));
    // libvirt runs QEMU as libvirt-qemu: it must traverse to the pool, kernel and console log.
    chmodSync(work, 0o755);
    daemons = await ensureLibvirtd(work);
    sshd = await startSshd(work);
    // Pool A holds the real guest image (raw ext4 from the VM suite's cached build) as its base volume.
    const poolA = join(work, 'pool-a');
    const poolB = join(work, 'pool-b');
    disk = await makeRunDisk('ifupdown', poolA, { name: 'base-ifupdown' });
    mkdirSync(poolB);
    mkdirSync(join(work, 'logs'));
    for (const d of [poolA, poolB, join(work, 'logs')]) chmodSync(d, 0o755);
    for (const [pool, dir] of [[POOL_A, poolA], [POOL_B, poolB]] as const) {
      await virshLines(SYSTEM_URI, ['pool-define-as', '--name', pool, '--type', 'dir', '--target', dir]);
      await virshLines(SYSTEM_URI, ['pool-start', pool]);
    }
    // Pool B (reached over ssh) gets its base the way a remote host would: created and uploaded through libvirt.
    const small = join(work, 'small.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', small, '64M']);
    await virshLines(sshd.uri, ['vol-create-as', '--pool', POOL_B, '--name', 'base.qcow2', '--capacity', '64M', '--format', 'qcow2']);
    await virshLines(sshd.uri, ['vol-upload', '--pool', POOL_B, '--vol', 'base.qcow2', '--file', small]);
    for (const p of [POOL_A, POOL_B]) volsBefore[p] = (await virshLines(SYSTEM_URI, ['vol-list', '--pool', p])).map((l) => l.split(/\s+/)[0]!).sort();
  }, 40 * 60_000);

  afterAll(async () => {
    // Only what this test made: its prefixed domains, its pools, its sshd, the daemons it started.
    const names = await virshLines(SYSTEM_URI, ['list', '--all', '--name']).catch(() => [] as string[]);
    for (const n of names.filter((x) => x.startsWith(tag))) {
      await execa('virsh', ['-q', '-c', SYSTEM_URI, 'destroy', n], { reject: false });
      await execa('virsh', ['-q', '-c', SYSTEM_URI, 'undefine', n], { reject: false });
    }
    for (const p of [POOL_A, POOL_B]) {
      await execa('virsh', ['-q', '-c', SYSTEM_URI, 'pool-destroy', p], { reject: false });
      await execa('virsh', ['-q', '-c', SYSTEM_URI, 'pool-undefine', p], { reject: false });
    }
    await sshd?.stop();
    await daemons?.stop();
    if (work && !process.env.VM_KEEP) rmSync(work, { recursive: true, force: true });
  }, 5 * 60_000);

  const inventory = (hostBUri: string, extra = '') => `
[defaults]
hypervisor = qemu
user_networking = yes
cdrom_bus = ide
memory = 256
pool = 10.0.2.50-10.0.2.60
prefix = 24
gateway = 10.0.2.2
dns = 10.0.2.3

[host a]
uri = ${SYSTEM_URI}
pool = ${POOL_A}
base_volume = base-ifupdown.ext4
capacity = 2

[host b]
uri = ${hostBUri}
pool = ${POOL_B}
base_volume = base.qcow2
${extra}
[group web]
name = ${tag}-web{1..3}
`;

  it('places a batch across two hosts (qemu:///system and qemu+ssh) with pool volumes; --force and --contexts-only keep the disks', async () => {
    const inv = join(work, 'fleet.ini');
    writeFileSync(inv, inventory(sshd!.uri));
    const dry = await contextgen(['batch', inv, '-o', out1(), '--dry-run'], work);
    expect(dry.err).toBe('');
    expect(dry.code).toBe(0);
    // Fill in inventory order: a takes two (its capacity), b the rest.
    expect(dry.out.split('\n').slice(0, 3).map((l) => `${l.split('\t')[0]} ${/host (\S+)/.exec(l)?.[1]}`)).toEqual([`${vm('web1')} a`, `${vm('web2')} a`, `${vm('web3')} b`]);

    const r = await contextgen(['batch', inv, '-o', out1(), '--define'], work);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/batch: 3 VMs, 6 files in .*, 6 volumes created, 3 defined/);
    for (const [n, pool] of [['web1', POOL_A], ['web2', POOL_A], ['web3', POOL_B]] as const) {
      expect(await state(vm(n))).toBe('shut off');
      const xml = (await virshLines(SYSTEM_URI, ['dumpxml', '--domain', vm(n)])).join('\n');
      expect(xml).toContain(`<source pool='${pool}' volume='${vm(n)}.qcow2'/>`);
      expect(xml).toContain(`<source pool='${pool}' volume='${vm(n)}-context.iso'/>`);
      // The ISO volume holds exactly the bytes of OUTDIR's copy; the overlay is backed by the host's base volume.
      expect(sha(await volPath(pool, `${vm(n)}-context.iso`))).toBe(sha(join(out1(), vm(n), 'context.iso')));
      const info = JSON.parse((await execa('qemu-img', ['info', '-U', '--output=json', await volPath(pool, `${vm(n)}.qcow2`)])).stdout) as Record<string, string>;
      expect(info['backing-filename']).toBe(await volPath(pool, pool === POOL_A ? 'base-ifupdown.ext4' : 'base.qcow2'));
    }
    const list = await contextgen(['list', '-o', out1()], work);
    expect(list.out.split('\n').map((l) => l.split('\t')[4])).toEqual([SYSTEM_URI, SYSTEM_URI, sshd!.uri]);

    // The guests' disks: a pattern in each overlay volume survives --force and --contexts-only.
    const disks = [await volPath(POOL_A, `${vm('web1')}.qcow2`), await volPath(POOL_B, `${vm('web3')}.qcow2`)];
    for (const d of disks) writeDiskPattern(d);
    const isoBefore = sha(await volPath(POOL_B, `${vm('web3')}-context.iso`));
    writeFileSync(inv, inventory(sshd!.uri).replace('memory = 256', 'memory = 320'));
    for (const mode of ['--force', '--contexts-only']) {
      const again = await contextgen(['batch', inv, '-o', out1(), '--define', mode, '--mtime', mode === '--force' ? '1700000000' : '1700000001'], work);
      expect(again.err).toBe('');
      expect(again.code).toBe(0);
      expect(again.out).toMatch(/3 VMs, 6 files in .*, 3 volumes created, 3 defined/); // the ISOs; no disk
      for (const d of disks) expect(hasDiskPattern(d)).toBe(true);
    }
    expect(sha(await volPath(POOL_B, `${vm('web3')}-context.iso`))).not.toBe(isoBefore);
    expect((await virshLines(SYSTEM_URI, ['dumpxml', '--domain', vm('web3')])).join('\n')).toContain("<memory unit='KiB'>327680</memory>");
  }, 15 * 60_000);

  it('checks every host before writing anywhere: one line per [host] section, key and value', async () => {
    const bad = join(work, 'bad.ini');
    const unreachable = 'qemu+ssh://root@127.0.0.1:1/system?no_verify=1';
    writeFileSync(
      bad,
      inventory(SYSTEM_URI)
        .replace(`pool = ${POOL_B}`, 'pool = no-such-pool')
        .replace('capacity = 2', 'capacity = 1')
        .replace(`[group web]`, `[host c]\nuri = ${unreachable}\npool = x\n\n[host d]\nuri = ${SYSTEM_URI}\npool = ${POOL_A}\nbase_volume = missing.qcow2\ncapacity = 1\n\n[group web]`)
        .replace(`name = ${tag}-web{1..3}`, `name = ${tag}-bad{1..3}`),
    );
    const before = (await virshLines(SYSTEM_URI, ['vol-list', '--pool', POOL_A])).length;
    const r = await contextgen(['batch', 'bad.ini', '-o', join(work, 'out-bad'), '--define'], work);
    expect(r.code).toBe(1);
    const lines = r.err.split('\n');
    expect(lines).toContain(`contextgen: bad.ini: [host b] pool = "no-such-pool": no such storage pool at ${SYSTEM_URI} (virsh pool-define-as / pool-start it)`);
    expect(lines.find((l) => l.startsWith(`contextgen: bad.ini: [host c] uri = "${unreachable}": cannot reach libvirt: `))).toBeDefined();
    expect(lines).toContain(`contextgen: bad.ini: [host d] base_volume = "missing.qcow2": no such volume in pool ${POOL_A} at ${SYSTEM_URI}`);
    expect(existsSync(join(work, 'out-bad'))).toBe(false);
    expect((await virshLines(SYSTEM_URI, ['vol-list', '--pool', POOL_A])).length).toBe(before);
  }, 5 * 60_000);

  it('batch --start: libvirt boots the guest from the pool volumes, the agent applies the context, the console log shows its address', async () => {
    const inv = join(work, 'boot.ini');
    writeFileSync(
      inv,
      `[defaults]
hypervisor = qemu
user_networking = yes
cdrom_bus = ide
memory = 512
pool = 10.0.2.50-10.0.2.60
prefix = 24
gateway = 10.0.2.2
dns = 10.0.2.3
kernel = ${disk.kernel}
initrd = ${disk.initrd}
cmdline = "root=/dev/vda rw console=ttyS0 panic=-1 net.ifnames=0 quiet loglevel=4"
console_log = ${join(work, 'logs')}/{name}.log

[host a]
uri = ${SYSTEM_URI}
pool = ${POOL_A}
base_volume = base-ifupdown.ext4

[vm ${vm('boot')}]
address = 10.0.2.57
`,
    );
    expect((await contextgen(['batch', inv, '-o', out2(), '--start'], work)).err).toContain('--start needs --define');
    const r = await contextgen(['batch', inv, '-o', out2(), '--define', '--start'], work);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/1 VMs, 2 files in .*, 2 volumes created, 1 defined, 1 started/);
    // remove refuses a running domain (and removes nothing).
    const refused = await contextgen(['remove', vm('boot'), '-o', out2()], work);
    if ((await state(vm('boot'))) === 'running') {
      expect(refused.code).toBe(1);
      expect(refused.err).toContain(`.contextgen.json: ${vm('boot')}: domain is running at ${SYSTEM_URI}; shut it down or pass --force to stop it`);
    }
    // The report on the console is the result; the guest then powers itself off (libvirt: shut off).
    const log = join(work, 'logs', `${vm('boot')}.log`);
    const consoleNow = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (!consoleNow().includes(REPORT_END) && (await state(vm('boot'))) === 'running' && Date.now() < deadline) await new Promise((res) => setTimeout(res, 2000));
    const consoleText = consoleNow();
    expect(consoleText.includes(REPORT_END), `no complete report within ${BOOT_TIMEOUT_MS / 1000} s; console tail:\n${consoleText.slice(-3000)}`).toBe(true);
    const off = Date.now() + 120_000;
    while ((await state(vm('boot'))) === 'running' && Date.now() < off) await new Promise((res) => setTimeout(res, 2000));
    expect(await state(vm('boot'))).toBe('shut off');
    const report = parseReport(consoleText);
    expect(report, `no report on the console:\n${consoleText.slice(-3000)}`).toBeDefined();
    expect(report!.hostname).toBe(vm('boot'));
    expect(report!.addresses.filter((a) => a.ifname !== 'lo').map((a) => `${a.ifname} ${a.address}/${a.prefix}`)).toEqual(['eth0 10.0.2.57/24']);
    expect(report!.status?.result).toBe('ok');
  }, 30 * 60_000);

  it('remove leaves no domain, volume or file behind', async () => {
    const r1 = await contextgen(['remove', vm('web1'), vm('web2'), vm('web3'), '-o', out1()], work);
    expect(r1.err).toBe('');
    expect(r1.code).toBe(0);
    const r2 = await contextgen(['remove', vm('boot'), '-o', out2()], work);
    expect(r2.err).toBe('');
    expect(r2.code).toBe(0);
    expect((await virshLines(SYSTEM_URI, ['list', '--all', '--name'])).filter((n) => n.startsWith(tag))).toEqual([]);
    for (const p of [POOL_A, POOL_B]) {
      await virshLines(SYSTEM_URI, ['pool-refresh', p]);
      expect((await virshLines(SYSTEM_URI, ['vol-list', '--pool', p])).map((l) => l.split(/\s+/)[0]!).sort()).toEqual(volsBefore[p]);
    }
    for (const o of [out1(), out2()]) expect(readdirSync(o)).toEqual(['.contextgen.json']);
    expect((await contextgen(['list', '-o', out1()], work)).out).toBe('');
  }, 10 * 60_000);
});

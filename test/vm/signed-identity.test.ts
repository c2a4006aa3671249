/**
 * Real guests (networkd image, QEMU/TCG) for signed contexts (issue 13) and clone identity (issue 14).
 * The base image is baked with `install --trust-key`; every CD is signed with `contextgen iso --sign-key`
 * for one domain UUID (QEMU -uuid sets the SMBIOS UUID, as libvirt does from <uuid>) and one MAC.
 *  - the CD on the VM it was made for: applied, status names the signer;
 *  - the same CD on a VM with another UUID: refused whole with one line, the VM comes up by DHCP; this
 *    VM's disk backs onto a copy of the base without its RSA and ECDSA host keys (an image built for
 *    fast clones): its first boot makes one new ed25519 key only, and status.json gives that cost;
 *  - two overlays of one base, each with its own context (NIC by DHCP): each gets its own machine-id
 *    (not the base's), its own SSH host keys of every type the base had (sshd serves them: ssh-keyscan
 *    in the guest), its own DHCP client identity on the wire (QEMU's filter-dump pcap, option 61), and a
 *    second boot of the same instance keeps all of it; an overlay 1 GiB larger than the base boots with
 *    a root filesystem about 1 GiB larger.
 * The base image's DHCP identity is computed, not booted: networkd's DUID is a pure function of the
 * machine-id (dhcp-pcap.ts networkdDuid, checked against systemd's own vector), and every clone's
 * observed DUID is checked against the same function of its own machine-id, which proves the model.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DhcpClientMessage, dhcpClientMessages, networkdDuid, splitRfc4361 } from './dhcp-pcap.js';
import { CONTEXTGEN_BIN, type GuestFile, type RunDisk, makeOverlay, makeRunDisk } from './images.js';
import { missingPrerequisites, vmGate } from './prereqs.js';
import { BOOT_TIMEOUT_MS, bootVm } from './qemu.js';
import { type Report, parseReport } from './report.js';

const TIMEOUT = BOOT_TIMEOUT_MS * 2 + 60_000;
const UUID_A = '11111111-2222-4333-8444-555555555555';
const UUID_B = '66666666-7777-4888-9999-000000000000';
const UUID_C = '12345678-9abc-4def-8123-456789abcdef';
const MAC_A = '52:54:00:5e:00:0a';
const MAC_C = '52:54:00:5e:00:0c';

/**
 * Test harness only: what the identity assertions need from the guest, printed on ttyS0 between its own
 * markers once sshd and the network are up and before vm-report powers the guest off.
 */
const IDENTITY_REPORT = `#!/bin/sh
{
  printf '\\n=== IDENTITY-REPORT BEGIN ===\\n'
  echo '=== host-keys ==='; for f in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf "$f"; done
  echo '=== host-key-files ==='; stat -c '%a %U:%G %F %n' /etc/ssh/ssh_host_*
  echo '=== ssh-active ==='; systemctl is-active ssh.service
  echo '=== ssh-after ==='; systemctl show -P After ssh.service
  echo '=== order ==='
  echo "local-done $(systemctl show -P ActiveEnterTimestampMonotonic contextualization-local.service)"
  echo "ssh-start $(systemctl show -P ExecMainStartTimestampMonotonic ssh.service)"
  echo '=== keyscan ==='; ssh-keyscan -T 30 -t ed25519,ecdsa,rsa 127.0.0.1 2>/dev/null | ssh-keygen -lf -
  echo '=== dbus-machine-id ==='; cat /var/lib/dbus/machine-id
  echo '=== leases ==='; cat /run/systemd/netif/leases/* 2>&1
  printf '=== IDENTITY-REPORT END ===\\n'
} >/dev/ttyS0 2>&1
`;
const IDENTITY_UNIT = `[Unit]
Description=Test harness: print SSH host keys, sshd's keys and the DHCP lease to ttyS0
After=ssh.service contextualization-local.service network-online.target
Wants=network-online.target
Before=vm-report.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/identity-report
TimeoutStartSec=120

[Install]
WantedBy=multi-user.target
`;
const IDENTITY_FILES: GuestFile[] = [
  { path: '/usr/local/sbin/identity-report', content: IDENTITY_REPORT, mode: 0o755 },
  { path: '/etc/systemd/system/identity-report.service', content: IDENTITY_UNIT, mode: 0o644 },
  { path: '/etc/systemd/system/multi-user.target.wants/identity-report.service', linkTo: '/etc/systemd/system/identity-report.service' },
];

/** The sections between the identity report's markers. */
function identitySections(consoleText: string): Map<string, string> {
  const all = consoleText.replace(/\r/g, '').split('\n');
  const begin = all.lastIndexOf('=== IDENTITY-REPORT BEGIN ===');
  const end = all.indexOf('=== IDENTITY-REPORT END ===', begin);
  const out = new Map<string, string>();
  if (begin < 0 || end < 0) return out;
  let name = '';
  for (const line of all.slice(begin + 1, end)) {
    const m = /^=== ([a-z-]+) ===$/.exec(line);
    if (m) out.set((name = m[1]!), '');
    else if (name) out.set(name, `${out.get(name)}${line}\n`);
  }
  return out;
}

/** `ssh-keygen -l` lines ("256 SHA256:... comment (ED25519)") as type -> fingerprint. */
function fingerprints(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^\d+ (SHA256:[A-Za-z0-9+/]+) .*\((\w+)\)$/gm)) out[m[2]!.toLowerCase()] = m[1]!;
  return out;
}

const gate = vmGate();
const suite = gate.run ? describe : describe.skip;
if (!gate.run) console.warn(`\n!!! ${gate.reason} (signed + identity)\n`);

suite('VM boot (networkd): signed contexts and clone identity', () => {
  let work = '';
  let disk: RunDisk;
  let key = '';
  let baseMachineId = '';
  /** The base image's host key fingerprints (type -> SHA256:...), read from the disk every clone backs onto. */
  let baseKeys: Record<string, string> = {};

  beforeAll(async () => {
    const missing = missingPrerequisites();
    if (missing.length) throw new Error(`VM suite prerequisites missing:\n  ${missing.join('\n  ')}`);
    work = mkdtempSync(join(tmpdir(), 'ctx-vm-signed-'));
    key = join(work, 'operator');
    await execa(CONTEXTGEN_BIN, ['keygen', '-o', key]);
    disk = await makeRunDisk('networkd', work, { trustKeys: [`${key}.pub`], name: 'networkd-signed', extraFiles: IDENTITY_FILES });
    const { stdout } = await execa('debugfs', ['-R', 'cat /etc/machine-id', disk.image], { reject: false });
    baseMachineId = stdout.trim();
    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      const pub = (await execa('debugfs', ['-R', `cat /etc/ssh/ssh_host_${type}_key.pub`, disk.image], { reject: false })).stdout;
      if (!pub.startsWith('ssh-') && !pub.startsWith('ecdsa-')) continue;
      writeFileSync(join(work, `base-${type}.pub`), pub);
      Object.assign(baseKeys, fingerprints((await execa('ssh-keygen', ['-lf', join(work, `base-${type}.pub`)])).stdout));
    }
    console.log(`base image: machine-id ${baseMachineId}, networkd DUID ${networkdDuid(baseMachineId)}, host keys ${JSON.stringify(baseKeys)}`);
  }, 30 * 60_000);
  afterAll(() => { if (work && process.env.VM_KEEP !== '1') rmSync(work, { recursive: true, force: true }); });

  /** A signed context whose NIC takes DHCP (so that the clone's DHCP client identity shows on the wire). */
  async function signedIso(name: string, o: { uuid: string; mac: string; instanceId: string }): Promise<string> {
    const out = join(work, `${name}.iso`);
    await execa(CONTEXTGEN_BIN, ['iso', '-o', out, '--force', '--hostname', name, '--nic', `${o.mac}=dhcp`,
      '--instance-id', o.instanceId, '--sign-key', key, '--uuid', o.uuid, '--mac', o.mac]);
    return out;
  }

  type Booted = Report & { console: string; identity: Map<string, string>; dhcp: DhcpClientMessage[] };
  async function boot(name: string, overlay: string, iso: string, mac: string, uuid: string): Promise<Booted> {
    const consoleLog = join(work, `${name}.console.log`);
    const pcap = join(work, `${name}.pcap`);
    const r = await bootVm({ kernel: disk.kernel, initrd: disk.initrd, disk: overlay, iso, cdBus: 'ide', mac, predictableNames: false, timeoutMs: BOOT_TIMEOUT_MS, consoleLog, uuid, pcap });
    const report = parseReport(r.console);
    if (!report) throw new Error(`no report on the console (${consoleLog})`);
    const identity = identitySections(r.console);
    if (!identity.size) throw new Error(`no identity report on the console (${consoleLog})`);
    const dhcp = dhcpClientMessages(readFileSync(pcap));
    console.log(`${name}: machine-id ${report.sections.get('machine-id')}; DHCP ${dhcp.map((m) => `${m.type} chaddr ${m.chaddr} id ${m.clientId ?? '-'} name ${m.hostname ?? '-'}`).join(' | ')}`);
    console.log(`${name}: host key files\n${identity.get('host-keys')}${name}: sshd serves (ssh-keyscan 127.0.0.1)\n${identity.get('keyscan')}`);
    return Object.assign(report, { console: r.console, identity, dhcp });
  }

  /** The DUID every DHCP message of a boot carried (all the same), checked against networkd's derivation. */
  function duidOf(r: Booted): string {
    const ids = [...new Set(r.dhcp.map((m) => m.clientId))];
    expect(r.dhcp.length, 'DHCP messages in the capture').toBeGreaterThan(0);
    expect(ids, 'one client id per boot').toHaveLength(1);
    const split = splitRfc4361(ids[0] ?? '');
    expect(split, `option 61 ${ids[0]} is not RFC 4361 (IAID + DUID)`).toBeDefined();
    // networkd's DUID is its machine-id's: so what the base image sends is networkdDuid(base id).
    expect(split!.duid).toBe(networkdDuid(r.sections.get('machine-id') ?? ''));
    return split!.duid;
  }

  /** Host keys of a clone: new for every type the base had, the files, the agent's lines and sshd all agree. */
  function hostKeysOf(r: Booted, base: Record<string, string> = baseKeys): Record<string, string> {
    const files = fingerprints(r.identity.get('host-keys') ?? '');
    expect(Object.keys(files).sort()).toEqual(Object.keys(base).sort());
    for (const [type, fp] of Object.entries(base)) expect(files[type], type).not.toBe(fp);
    // sshd runs and serves exactly these keys: it started after the agent wrote them.
    expect(r.identity.get('ssh-active')?.trim()).toBe('active');
    expect(fingerprints(r.identity.get('keyscan') ?? '')).toEqual(files);
    expect(r.identity.get('ssh-after')).toMatch(/\bcontextualization-local\.service\b/);
    const order = Object.fromEntries([...(r.identity.get('order') ?? '').matchAll(/^(\S+) (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
    expect(order['ssh-start']).toBeGreaterThanOrEqual(order['local-done']!);
    // Private keys 0600, public 0644, all root's regular files.
    for (const line of (r.identity.get('host-key-files') ?? '').trim().split('\n')) {
      expect(line).toMatch(/\.pub$/.test(line) ? /^644 root:root regular file / : /^600 root:root regular file /);
    }
    // D-Bus's id file (a regular file in this image) follows the new machine-id.
    expect(r.identity.get('dbus-machine-id')?.trim()).toBe(r.sections.get('machine-id'));
    return files;
  }

  /** The fingerprints the agent reported for a new instance: its console/journal lines and status.json. */
  function agentReported(r: Booted): { printed: string[]; status: Record<string, string>; ms: number; perKeyMs: Record<string, number>; split: string } {
    const identity = r.status?.stages[0]?.steps.find((s) => s.name === 'identity') as { message: string; durationMs?: number } | undefined;
    expect(identity, 'identity step in status.json').toBeDefined();
    const status: Record<string, string> = {};
    const perKeyMs: Record<string, number> = {};
    for (const m of identity!.message.matchAll(/\b(ed25519|ecdsa|rsa) (SHA256:[A-Za-z0-9+/]+) \((\d+) ms\)/g)) {
      status[m[1]!] = m[2]!;
      perKeyMs[m[1]!] = Number(m[3]);
    }
    const printed = [...new Set([...`${r.journal}\n${r.console}`.matchAll(/contextualization: new SSH host key (SHA256:[A-Za-z0-9+/]+)/g)].map((m) => m[1]!))];
    // The step says where its time went: facts, keys and plan vs the (batched, fsync'ed) writes.
    const split = /\((facts, keys and plan \d+ ms, writes \d+ ms)\)$/.exec(identity!.message)?.[1];
    expect(split, `identity message ${identity!.message}`).toBeDefined();
    return { printed: printed.sort(), status, ms: identity!.durationMs ?? NaN, perKeyMs, split: split! };
  }

  /** A copy of the base disk without its RSA and ECDSA host keys (debugfs on the raw ext4, no mount). */
  async function ed25519OnlyDisk(): Promise<RunDisk> {
    const image = join(work, 'networkd-ed25519-only.ext4');
    await execa('cp', ['--reflink=auto', '--sparse=always', disk.image, image]);
    const script = join(work, 'rm-host-keys.debugfs');
    writeFileSync(script, ['rsa', 'ecdsa'].flatMap((t) => [`rm /etc/ssh/ssh_host_${t}_key`, `rm /etc/ssh/ssh_host_${t}_key.pub`]).join('\n') + '\n');
    await execa('debugfs', ['-w', '-f', script, image]);
    const left = (await execa('debugfs', ['-R', 'ls /etc/ssh', image])).stdout;
    expect(left).toMatch(/ssh_host_ed25519_key\.pub/);
    expect(left).not.toMatch(/ssh_host_(rsa|ecdsa)_key/);
    return { ...disk, image };
  }

  const keys: Record<string, Record<string, string>> = {};
  const duids: Record<string, string> = {};

  const overlays: Record<string, string> = {};
  const machineIds: Record<string, string> = {};
  const isos: Record<string, string> = {};

  it('a CD signed for this VM is applied; the signer is in status', async () => {
    isos.a = await signedIso('vm-a', { uuid: UUID_A, mac: MAC_A, instanceId: 'signed-a' });
    overlays.a = await makeOverlay(disk, join(work, 'a.qcow2'));
    const r = await boot('a', overlays.a, isos.a, MAC_A, UUID_A);
    expect(r.status?.result, JSON.stringify(r.status)).toBe('ok');
    expect(r.hostname).toBe('vm-a');
    expect(r.addresses.map((a) => a.address)).toContain('10.0.2.15');
    expect((r.status?.source as { signer?: string } | undefined)?.signer).toMatch(/^[0-9a-f]{16}$/);
    machineIds.a = r.sections.get('machine-id') ?? '';
    expect(machineIds.a).toMatch(/^[0-9a-f]{32}$/);
    expect(machineIds.a).not.toBe(baseMachineId);
    // Clone identity: new host keys that sshd serves, the agent's report of them, a DUID not the base's.
    keys.a = hostKeysOf(r);
    const reported = agentReported(r);
    expect(reported.status).toEqual(keys.a);
    expect(reported.printed).toEqual(Object.values(keys.a).sort());
    duids.a = duidOf(r);
    expect(duids.a).not.toBe(networkdDuid(baseMachineId));
    expect(r.dhcp.every((m) => m.chaddr === MAC_A)).toBe(true);
    console.log(`identity step (a): ${reported.ms} ms (${reported.split}); key generation ms ${JSON.stringify(reported.perKeyMs)}`);
  }, TIMEOUT);

  it('the same CD on a VM with another UUID is refused with one line, and the VM comes up by DHCP', async () => {
    const overlay = await makeOverlay(await ed25519OnlyDisk(), join(work, 'b.qcow2'));
    // A's CD (made here when this test runs alone, -t): signed for UUID_A, booted on UUID_B.
    isos.a ??= await signedIso('vm-a', { uuid: UUID_A, mac: MAC_A, instanceId: 'signed-a' });
    const r = await boot('b', overlay, isos.a, MAC_A, UUID_B);
    expect(r.status?.result).toBe('failed');
    const sig = r.status?.stages[0]?.steps.find((s) => s.name === 'signature');
    expect(sig?.message).toMatch(/^context refused: .*UUID/);
    expect(r.journal).toMatch(/signature: context refused: .*UUID/);
    expect(r.hostname).not.toBe('vm-a');
    expect(r.addresses.map((a) => a.address)).toContain('10.0.2.15');
    // Nothing of the context, but the first boot of this disk is still a new machine: its own DUID.
    const duid = duidOf(r);
    expect(duid).not.toBe(networkdDuid(baseMachineId));
    expect(duid).not.toBe(duids.a);
    // The types the image had: ed25519 only, new, served by sshd, and its cost alone.
    const edOnly = hostKeysOf(r, { ed25519: baseKeys.ed25519! });
    expect(edOnly.ed25519).not.toBe(keys.a?.ed25519);
    const reported = agentReported(r);
    expect(reported.status).toEqual(edOnly);
    expect(reported.printed).toEqual([edOnly.ed25519]);
    console.log(`identity step (b, ed25519 only): ${reported.ms} ms (${reported.split}); key generation ms ${JSON.stringify(reported.perKeyMs)}`);
  }, TIMEOUT);

  it('another overlay of the same base, 1 GiB larger, is a new machine with a grown root filesystem', async () => {
    isos.c = await signedIso('vm-c', { uuid: UUID_C, mac: MAC_C, instanceId: 'signed-c' });
    const baseBytes = statSync(disk.image).size;
    overlays.c = await makeOverlay(disk, join(work, 'c.qcow2'), String(baseBytes + 1024 ** 3));
    const r = await boot('c', overlays.c, isos.c, MAC_C, UUID_C);
    expect(r.status?.result, JSON.stringify(r.status)).toBe('ok');
    machineIds.c = r.sections.get('machine-id') ?? '';
    expect(machineIds.c).toMatch(/^[0-9a-f]{32}$/);
    expect(machineIds.c).not.toBe(machineIds.a);
    expect(machineIds.c).not.toBe(baseMachineId);
    keys.c = hostKeysOf(r);
    for (const [type, fp] of Object.entries(keys.a!)) expect(keys.c[type], `${type}: clone C's key is clone A's`).not.toBe(fp);
    const reported = agentReported(r);
    expect(reported.status).toEqual(keys.c);
    expect(reported.printed).toEqual(Object.values(keys.c).sort());
    // The DHCP server sees two clients: two DUIDs, neither the base image's.
    duids.c = duidOf(r);
    expect(duids.c).not.toBe(duids.a);
    expect(duids.c).not.toBe(networkdDuid(baseMachineId));
    console.log(`identity step (c): ${reported.ms} ms (${reported.split}); key generation ms ${JSON.stringify(reported.perKeyMs)}`);
    const identity = r.status?.stages[0]?.steps.find((s) => s.name === 'identity');
    expect(identity?.result, JSON.stringify(identity)).toBe('ok');
    // The filesystem filled the bigger disk: at least 900 MiB more than the base image holds.
    const rootBytes = Number(r.sections.get('rootfs'));
    expect(rootBytes).toBeGreaterThan(baseBytes + 900 * 1024 ** 2);
    const grow = r.status?.stages[0]?.steps.find((s) => s.name === 'grow-root');
    expect(grow?.result, JSON.stringify(grow)).toBe('ok');
    const ms = (s: unknown): unknown => (s as { durationMs?: number } | undefined)?.durationMs;
    console.log(`identity step: ${identity?.message} (${ms(identity)} ms); grow-root step: ${grow?.message} (${ms(grow)} ms)`);
  }, TIMEOUT);

  it('a second boot of the same instance changes nothing of its identity', async () => {
    const r = await boot('a2', overlays.a!, isos.a!, MAC_A, UUID_A);
    expect(r.status?.result).toBe('ok');
    expect(r.sections.get('machine-id')).toBe(machineIds.a);
    expect(r.status?.stages[0]?.steps.map((s) => s.name)).not.toContain('identity');
    // The same host keys (files and what sshd serves) and the same DHCP client identity.
    expect(fingerprints(r.identity.get('host-keys') ?? '')).toEqual(keys.a);
    expect(fingerprints(r.identity.get('keyscan') ?? '')).toEqual(keys.a);
    expect(`${r.journal}\n${r.console}`).not.toMatch(/new SSH host key/);
    expect(duidOf(r)).toBe(duids.a);
  }, TIMEOUT);
});

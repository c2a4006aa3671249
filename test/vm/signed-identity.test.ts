/**
 * Real guests (networkd image, QEMU/TCG) for signed contexts (issue 13) and clone identity (issue 14).
 * The base image is baked with `install --trust-key`; every CD is signed with `contextgen iso --sign-key`
 * for one domain UUID (QEMU -uuid sets the SMBIOS UUID, as libvirt does from <uuid>) and one MAC.
 *  - the CD on the VM it was made for: applied, status names the signer;
 *  - the same CD on a VM with another UUID: refused whole with one line, the VM comes up by DHCP;
 *  - two overlays of one base, each with its own context: each gets its own machine-id (not the
 *    base's), a second boot of the same instance keeps it, and an overlay 1 GiB larger than the base
 *    boots with a root filesystem about 1 GiB larger.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXTGEN_BIN, type RunDisk, makeOverlay, makeRunDisk } from './images.js';
import { missingPrerequisites, vmGate } from './prereqs.js';
import { bootVm } from './qemu.js';
import { type Report, parseReport } from './report.js';

const BOOT_TIMEOUT_MS = Number(process.env.VM_BOOT_TIMEOUT_MS ?? 240_000);
const TIMEOUT = BOOT_TIMEOUT_MS * 2 + 60_000;
const UUID_A = '11111111-2222-4333-8444-555555555555';
const UUID_B = '66666666-7777-4888-9999-000000000000';
const UUID_C = '12345678-9abc-4def-8123-456789abcdef';
const MAC_A = '52:54:00:5e:00:0a';
const MAC_C = '52:54:00:5e:00:0c';

const gate = vmGate();
const suite = gate.run ? describe : describe.skip;
if (!gate.run) console.warn(`\n!!! ${gate.reason} (signed + identity)\n`);

suite('VM boot (networkd): signed contexts and clone identity', () => {
  let work = '';
  let disk: RunDisk;
  let key = '';
  let baseMachineId = '';

  beforeAll(async () => {
    const missing = missingPrerequisites();
    if (missing.length) throw new Error(`VM suite prerequisites missing:\n  ${missing.join('\n  ')}`);
    work = mkdtempSync(join(tmpdir(), 'ctx-vm-signed-'));
    key = join(work, 'operator');
    await execa(CONTEXTGEN_BIN, ['keygen', '-o', key]);
    disk = await makeRunDisk('networkd', work, { trustKeys: [`${key}.pub`], name: 'networkd-signed' });
    const { stdout } = await execa('debugfs', ['-R', 'cat /etc/machine-id', disk.image], { reject: false });
    baseMachineId = stdout.trim();
  }, 30 * 60_000);
  afterAll(() => { if (work && process.env.VM_KEEP !== '1') rmSync(work, { recursive: true, force: true }); });

  async function signedIso(name: string, o: { uuid: string; mac: string; address: string; instanceId: string }): Promise<string> {
    const out = join(work, `${name}.iso`);
    await execa(CONTEXTGEN_BIN, ['iso', '-o', out, '--force', '--hostname', name, '--nic', `${o.mac}=${o.address}/24`, '--gateway', '10.0.2.2',
      '--dns', '10.0.2.3', '--instance-id', o.instanceId, '--sign-key', key, '--uuid', o.uuid, '--mac', o.mac]);
    return out;
  }

  async function boot(name: string, overlay: string, iso: string, mac: string, uuid: string): Promise<Report & { console: string }> {
    const consoleLog = join(work, `${name}.console.log`);
    const r = await bootVm({ kernel: disk.kernel, initrd: disk.initrd, disk: overlay, iso, cdBus: 'ide', mac, predictableNames: false, timeoutMs: BOOT_TIMEOUT_MS, consoleLog, uuid });
    const report = parseReport(r.console);
    if (!report) throw new Error(`no report on the console (${consoleLog})`);
    return Object.assign(report, { console: r.console });
  }

  const overlays: Record<string, string> = {};
  const machineIds: Record<string, string> = {};
  const isos: Record<string, string> = {};

  it('a CD signed for this VM is applied; the signer is in status', async () => {
    isos.a = await signedIso('vm-a', { uuid: UUID_A, mac: MAC_A, address: '10.0.2.41', instanceId: 'signed-a' });
    overlays.a = await makeOverlay(disk, join(work, 'a.qcow2'));
    const r = await boot('a', overlays.a, isos.a, MAC_A, UUID_A);
    expect(r.status?.result, JSON.stringify(r.status)).toBe('ok');
    expect(r.addresses.map((a) => a.address)).toContain('10.0.2.41');
    expect((r.status?.source as { signer?: string } | undefined)?.signer).toMatch(/^[0-9a-f]{16}$/);
    machineIds.a = r.sections.get('machine-id') ?? '';
    expect(machineIds.a).toMatch(/^[0-9a-f]{32}$/);
    if (baseMachineId) expect(machineIds.a).not.toBe(baseMachineId);
  }, TIMEOUT);

  it('the same CD on a VM with another UUID is refused with one line, and the VM comes up by DHCP', async () => {
    const overlay = await makeOverlay(disk, join(work, 'b.qcow2'));
    const r = await boot('b', overlay, isos.a!, MAC_A, UUID_B);
    expect(r.status?.result).toBe('failed');
    const sig = r.status?.stages[0]?.steps.find((s) => s.name === 'signature');
    expect(sig?.message).toMatch(/^context refused: .*UUID/);
    expect(r.journal).toMatch(/signature: context refused: .*UUID/);
    expect(r.addresses.map((a) => a.address)).not.toContain('10.0.2.41');
    expect(r.addresses.map((a) => a.address)).toContain('10.0.2.15');
  }, TIMEOUT);

  it('another overlay of the same base, 1 GiB larger, is a new machine with a grown root filesystem', async () => {
    isos.c = await signedIso('vm-c', { uuid: UUID_C, mac: MAC_C, address: '10.0.2.43', instanceId: 'signed-c' });
    const baseBytes = statSync(disk.image).size;
    overlays.c = await makeOverlay(disk, join(work, 'c.qcow2'), String(baseBytes + 1024 ** 3));
    const r = await boot('c', overlays.c, isos.c, MAC_C, UUID_C);
    expect(r.status?.result, JSON.stringify(r.status)).toBe('ok');
    machineIds.c = r.sections.get('machine-id') ?? '';
    expect(machineIds.c).toMatch(/^[0-9a-f]{32}$/);
    expect(machineIds.c).not.toBe(machineIds.a);
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
  }, TIMEOUT);
});

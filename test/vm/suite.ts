import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POST_INSTALL_SCRIPT, contextgenFromDir, contextgenIso, genisoimageIso, snoozeDir, writePostInstall } from './context.js';
import { type RunDisk, type Variant, makeOverlay, makeRunDisk } from './images.js';
import { missingPrerequisites, vmGate } from './prereqs.js';
import { type CdBus, bootVm } from './qemu.js';
import { type Report, agentMs, defaultGateway, parseReport } from './report.js';
import { type BootRow, RESULTS_FILE, formatTable, recordRow } from './results.js';

/**
 * The VM scenarios, shared by one test file per network stack. Each test boots a real Debian guest
 * under QEMU/TCG with the real agent installed and asserts on the report the guest prints before it
 * powers off. Tests in a file run in order: the reboot scenarios reuse the first scenario's disk.
 */

/** QEMU user networking: the guest's subnet, gateway, DNS and the address its DHCP server hands out. */
const NET = { prefix: 24, gateway: '10.0.2.2', dns: '10.0.2.3', dhcp: '10.0.2.15' } as const;
/** A cold TCG boot of the full guest takes well under this; more means a hang (see the console tail). */
const BOOT_TIMEOUT_MS = Number(process.env.VM_BOOT_TIMEOUT_MS ?? 240_000);

export type Scenario = 'ide' | 'virtio' | 'scsi' | 'snooze' | 'no-cd' | 'second-boot' | 'new-instance' | 'broken';
export const ALL_SCENARIOS: Scenario[] = ['ide', 'virtio', 'scsi', 'snooze', 'no-cd', 'second-boot', 'new-instance', 'broken'];

interface BootSpec {
  scenario: Scenario;
  overlay: string;
  iso?: string;
  bus?: CdBus;
  mac: string;
  predictableNames: boolean;
}

/** The NIC the report should show: eth0 with net.ifnames=0, else a predictable name (ens3, enp0s3...). */
function expectNicName(report: Report, ifname: string, predictable: boolean): void {
  if (predictable) expect(ifname).toMatch(/^en[ops]/);
  else expect(ifname).toBe('eth0');
  expect(report.links).toContain(ifname);
}

function addrsOf(report: Report): string[] {
  return report.addresses.filter((a) => a.ifname !== 'lo').map((a) => `${a.ifname} ${a.address}/${a.prefix}`);
}

export function defineVmSuite(variant: Variant, scenarios: Scenario[] = ALL_SCENARIOS): void {
  const gate = vmGate();
  if (!gate.run) {
    console.warn(`\n!!! ${gate.reason} (${variant})\n`);
    describe.skip(`VM boot (${variant})`, () => {
      it('boots', () => {});
    });
    return;
  }

  describe(`VM boot (${variant})`, () => {
    let work = '';
    let disk: RunDisk;
    let postInstall = '';
    const rows: BootRow[] = [];
    const overlays: Record<string, string> = {};
    const fmt = (ms: number): string => (ms / 1000).toFixed(1);

    beforeAll(async () => {
      const missing = missingPrerequisites();
      if (missing.length) throw new Error(`VM suite prerequisites missing:\n  ${missing.join('\n  ')}`);
      work = mkdtempSync(join(tmpdir(), `ctx-vm-${variant}-`));
      postInstall = writePostInstall(work);
      disk = await makeRunDisk(variant, work);
    }, 30 * 60_000);

    afterAll(() => {
      for (const row of rows) recordRow(row);
      if (disk) {
        const extra = [
          `boot s = host wall time from spawning qemu to the report; agent s = sum of the agent's stages (status.json);`,
          `guest columns = guest uptime (s) when contextualization-local / network-online.target were done and the report printed.`,
          `${variant}: image build/cache check ${fmt(disk.imageBuildMs)} s, per-run disk with agent ${fmt(disk.diskMs)} s`,
          `rows appended to ${RESULTS_FILE}`,
        ];
        console.log(`\nVM boot times (${variant}, qemu -accel tcg, -smp 1)\n${formatTable(rows, extra)}\n`);
      }
      if (work && process.env.VM_KEEP !== '1') rmSync(work, { recursive: true, force: true });
    });

    /** Boots once, records the row, and returns the parsed report (failing with the console tail if none). */
    async function boot(spec: BootSpec): Promise<Report> {
      const consoleLog = join(work, `${spec.scenario}.console.log`);
      const result = await bootVm({
        kernel: disk.kernel,
        initrd: disk.initrd,
        disk: spec.overlay,
        iso: spec.iso,
        cdBus: spec.bus,
        mac: spec.mac,
        predictableNames: spec.predictableNames,
        timeoutMs: BOOT_TIMEOUT_MS,
        consoleLog,
      });
      const report = parseReport(result.console);
      if (!report) throw new Error(`no report on the console (${consoleLog})`);
      const row: BootRow = {
        variant,
        scenario: spec.scenario,
        bootMs: result.bootMs,
        agentMs: agentMs(report),
        guestS: report.uptimeS,
        localDoneS: report.timeline['contextualization-local.service'],
        onlineS: report.timeline['network-online.target'],
        passed: false,
      };
      rows.push(row);
      return Object.assign(report, { row, console: result.console });
    }
    /** Marks the last boot's row as passed once its assertions held. */
    function passed(report: Report): void {
      (report as Report & { row: BootRow }).row.passed = true;
    }

    const timeout = BOOT_TIMEOUT_MS * 2 + 60_000;
    const staticMac = { ide: '52:54:00:c0:00:11', virtio: '52:54:00:c0:00:12', scsi: '52:54:00:c0:00:13' } as const;
    const staticAddr = { ide: '10.0.2.21', virtio: '10.0.2.22', scsi: '10.0.2.23' } as const;

    /** Static context from `contextgen iso`, on one CD bus: hostname, address, route, DNS, post-install. */
    async function staticScenario(bus: 'ide' | 'virtio' | 'scsi', predictable: boolean): Promise<void> {
      const hostname = `vm-${variant}-${bus}`;
      const instanceId = `${variant}-${bus}-1`;
      const iso = await contextgenIso(join(work, `${bus}.iso`), {
        hostname,
        mac: staticMac[bus],
        address: `${staticAddr[bus]}/${NET.prefix}`,
        gateway: NET.gateway,
        dns: NET.dns,
        instanceId,
        postInstall,
      });
      overlays[bus] = await makeOverlay(disk, join(work, `${bus}.qcow2`));
      const report = await boot({ scenario: bus, overlay: overlays[bus]!, iso, bus, mac: staticMac[bus], predictableNames: predictable });

      expect(report.hostname).toBe(hostname);
      const nic = report.addresses.find((a) => a.address === staticAddr[bus]);
      expect(nic, `addresses: ${addrsOf(report).join(', ')}`).toBeDefined();
      expect(nic!.prefix).toBe(NET.prefix);
      expectNicName(report, nic!.ifname, predictable);
      // Static means static: no DHCP lease on top of the context's address.
      expect(addrsOf(report)).not.toContain(`${nic!.ifname} ${NET.dhcp}/${NET.prefix}`);
      expect(defaultGateway(report)).toBe(NET.gateway);
      expect(report.dnsServers).toContain(NET.dns);
      expect(report.postInstallRuns).toBe(1);
      expect(report.status?.result, JSON.stringify(report.status)).toBe('ok');
      expect(report.status?.instanceId).toBe(instanceId);
      expect(report.failedUnits.filter((u) => u.startsWith('contextualization'))).toEqual([]);
      passed(report);
    }

    if (scenarios.includes('ide')) {
      it('IDE CD from contextgen: hostname, static address, route, DNS, post-install (eth0 names)', () => staticScenario('ide', false), timeout);
    }
    if (scenarios.includes('virtio')) {
      it('virtio-blk context disk: same, with predictable interface names', () => staticScenario('virtio', true), timeout);
    }
    if (scenarios.includes('scsi')) {
      it('virtio-scsi CD: same', () => staticScenario('scsi', false), timeout);
    }

    if (scenarios.includes('second-boot')) {
      it('second boot of the same instance: config kept, post-install not re-run', async () => {
        expect(overlays.ide, 'needs the ide scenario disk').toBeDefined();
        const report = await boot({
          scenario: 'second-boot', overlay: overlays.ide!, iso: join(work, 'ide.iso'), bus: 'ide', mac: staticMac.ide, predictableNames: false,
        });
        expect(report.hostname).toBe(`vm-${variant}-ide`);
        expect(report.addresses.map((a) => a.address)).toContain(staticAddr.ide);
        expect(defaultGateway(report)).toBe(NET.gateway);
        expect(report.postInstallRuns).toBe(1);
        expect(report.status?.result).toBe('ok');
        passed(report);
      }, timeout);
    }

    if (scenarios.includes('new-instance')) {
      it('new instance id on the same disk: post-install runs again, new settings applied', async () => {
        expect(overlays.ide, 'needs the ide scenario disk').toBeDefined();
        const iso = await contextgenIso(join(work, 'ide-2.iso'), {
          hostname: `vm-${variant}-reborn`,
          mac: staticMac.ide,
          address: `10.0.2.31/${NET.prefix}`,
          gateway: NET.gateway,
          dns: NET.dns,
          instanceId: `${variant}-ide-2`,
          postInstall,
        });
        const report = await boot({ scenario: 'new-instance', overlay: overlays.ide!, iso, bus: 'ide', mac: staticMac.ide, predictableNames: false });
        expect(report.hostname).toBe(`vm-${variant}-reborn`);
        expect(report.addresses.map((a) => a.address)).toContain('10.0.2.31');
        // The old instance's address is gone, not left next to the new one.
        expect(report.addresses.map((a) => a.address)).not.toContain(staticAddr.ide);
        expect(report.postInstallRuns).toBe(2);
        expect(report.status?.instanceId).toBe(`${variant}-ide-2`);
        expect(report.status?.result).toBe('ok');
        passed(report);
      }, timeout);
    }

    if (scenarios.includes('snooze')) {
      it('Snooze context (common/network only): address from the MAC, predictable names', async () => {
        const mac = '00:16:0a:00:02:2a'; // last four bytes 0a:00:02:2a = 10.0.2.42
        const dir = snoozeDir(
          join(work, 'snooze'),
          ['NETWORK=10.0.2.0', 'NETMASK=255.255.255.0', 'BROADCAST=10.0.2.255', `GATEWAY=${NET.gateway}`, `NAMESERVER=${NET.dns}`],
          POST_INSTALL_SCRIPT,
        );
        const iso = await contextgenFromDir(join(work, 'snooze.iso'), dir);
        const overlay = await makeOverlay(disk, join(work, 'snooze.qcow2'));
        const report = await boot({ scenario: 'snooze', overlay, iso, bus: 'ide', mac, predictableNames: true });
        const nic = report.addresses.find((a) => a.address === '10.0.2.42');
        expect(nic, `addresses: ${addrsOf(report).join(', ')}`).toBeDefined();
        expect(nic!.prefix).toBe(24);
        expectNicName(report, nic!.ifname, true);
        expect(defaultGateway(report)).toBe(NET.gateway);
        expect(report.dnsServers).toContain(NET.dns);
        expect(report.postInstallRuns).toBe(1);
        expect(report.status?.result, JSON.stringify(report.status)).toBe('ok');
        passed(report);
      }, timeout);
    }

    if (scenarios.includes('no-cd')) {
      it('no context CD: DHCP on the NIC (10.0.2.15), agent reports no source', async () => {
        const overlay = await makeOverlay(disk, join(work, 'no-cd.qcow2'));
        const report = await boot({ scenario: 'no-cd', overlay, mac: '52:54:00:c0:00:20', predictableNames: true });
        const nic = report.addresses.find((a) => a.address === NET.dhcp);
        expect(nic, `addresses: ${addrsOf(report).join(', ')}`).toBeDefined();
        expectNicName(report, nic!.ifname, true);
        expect(defaultGateway(report)).toBe(NET.gateway);
        expect(report.postInstallRuns).toBe(0);
        expect(report.status, 'status.json').toBeDefined();
        expect(report.status?.source?.kind).toBe('none');
        expect(report.hostname).toBe('base-image');
        passed(report);
      }, timeout);
    }

    if (scenarios.includes('broken')) {
      it('broken context (GATEWAY outside the subnet): clear error, guest still on the network by DHCP', async () => {
        const dir = snoozeDir(join(work, 'broken'), ['NETWORK=10.0.2.0', 'NETMASK=255.255.255.0', 'GATEWAY=192.168.77.1']);
        const iso = await genisoimageIso(join(work, 'broken.iso'), dir);
        const overlay = await makeOverlay(disk, join(work, 'broken.qcow2'));
        const report = await boot({ scenario: 'broken', overlay, iso, bus: 'ide', mac: '00:16:0a:00:02:2b', predictableNames: false });
        // The error names the file, the key and the value, on the serial console (journald's console copy is
        // best effort under load: the unit's journal, which the report prints, must hold it in any case).
        const consoleText = `${(report as Report & { console: string }).console}\n${report.journal}`;
        expect(report.journal).toMatch(/common\/network.*GATEWAY.*192\.168\.77\.1/);
        expect(consoleText).toMatch(/common\/network.*GATEWAY.*192\.168\.77\.1|GATEWAY.*192\.168\.77\.1.*common\/network/);
        expect(report.status?.result).toBe('failed');
        // Nothing from the bad context is applied; the fallback keeps the guest reachable.
        expect(report.addresses.map((a) => a.address)).not.toContain('10.0.2.43');
        expect(report.addresses.map((a) => a.address)).toContain(NET.dhcp);
        expect(defaultGateway(report)).toBe(NET.gateway);
        passed(report);
      }, timeout);
    }
  });
}

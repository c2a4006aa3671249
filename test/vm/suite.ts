import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { POST_INSTALL_SCRIPT, contextgenFromDir, contextgenIso, genisoimageIso, snoozeDir, writePostInstall, zisofsIso } from './context.js';
import { type RunDisk, type Variant, makeOverlay, makeRunDisk } from './images.js';
import { missingPrerequisites, vmGate } from './prereqs.js';
import { BOOT_TIMEOUT_MS, type CdBus, bootVm } from './qemu.js';
import { type Report, agentMs, agentSteps, defaultGateway, parseReport, parseRoutes, resolvedByScope } from './report.js';
import { type BootRow, RESULTS_FILE, formatTable, recordRow } from './results.js';

/**
 * The VM scenarios, shared by one test file per network stack. Each test boots a real Debian guest
 * under QEMU/TCG with the real agent installed and asserts on the report the guest prints before it
 * powers off. Tests in a file run in order: the reboot scenarios reuse the first scenario's disk.
 */

/** QEMU user networking: the guest's subnet, gateway, DNS and the address its DHCP server hands out. */
const NET = { prefix: 24, gateway: '10.0.2.2', dns: '10.0.2.3', dhcp: '10.0.2.15' } as const;
/** A cold TCG boot of the full guest takes well under this; more means a hang (see the console tail). */

/** The context's search domains, and the domain QEMU's DHCP hands out (in resolv.conf only if a DHCP client wrote it). */
const SEARCH = ['ctx.example', 'lab.example'];
const DHCP_DOMAIN = 'dhcp.invalid';
/** The second NIC of the two-NIC scenario: its own QEMU user network, not in the context. */
const NET2 = { net: '10.0.3.0/24', dhcp: '10.0.3.15', dns: '10.0.3.3' } as const;
/**
 * The agent's waits: discovery's 10 s deadline (only while udev still has events queued), 5 s per
 * `systemctl is-active`, 30 s per live command or lock. find-context is judged by its journal line
 * (scans=1: found at the first look, no wait; else it must have stopped before the deadline). Every
 * other step must stay under 30 s: no command or lock waited to its timeout. (On the loaded 2-core TCG
 * host a plain apply of four files took 13.7 s, so a tighter time bound would measure the host, not a
 * wait.) CPU-bound steps (host keys, resize2fs, the post-install script) get their own limits, see stepBoundMs.
 */
const STEP_BOUND_MS = 30_000;
/** A refused context fails the local unit (exit 1, the operator's signal); nothing else may fail. */
const BROKEN_FAILED_UNITS = ['contextualization-local.service'];

export type Scenario =
  | 'ide' | 'virtio' | 'scsi' | 'snooze' | 'no-cd' | 'second-boot' | 'new-instance' | 'broken' | 'two-nics' | 'rc-local' | 'zisofs';
export const ALL_SCENARIOS: Scenario[] = ['ide', 'virtio', 'scsi', 'snooze', 'no-cd', 'second-boot', 'new-instance', 'broken', 'two-nics'];

interface BootSpec {
  scenario: Scenario;
  overlay: string;
  iso?: string;
  bus?: CdBus;
  mac: string;
  predictableNames: boolean;
  extraNics?: { mac: string; net: string }[];
  disk?: RunDisk;
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

function nicByMac(report: Report, mac: string): string {
  const name = Object.entries(report.macs).find(([, m]) => m === mac.toLowerCase())?.[0];
  expect(name, `no link with MAC ${mac}: ${JSON.stringify(report.macs)}`).toBeDefined();
  return name!;
}

const sameSet = (a: string[]): string[] => [...new Set(a)].sort();

/** Step time limit: CPU-bound steps get their own (still well under their unit's timeout). */
function stepBoundMs(step: string): number {
  if (step === 'identity' || step === 'grow-root') return 60_000; // host keys / resize2fs under a loaded TCG
  // Live runs (rc.local) run dhclient -x, ifdown and ifup in apply (31 s measured under load); a command that
  // reached its own 30 s timeout would fail the step, which the scenarios' status 'ok' rules out.
  if (step === 'apply') return 60_000;
  if (step === 'post-install') return 60_000; // the test script appends one line; bash start-up under a loaded TCG
  return STEP_BOUND_MS;
}

/**
 * What every boot must show, whatever the scenario: no failed unit at all (the distribution's
 * included: a networking.service or wait-online that failed is what a half-neutralised image does),
 * and no agent step that waited on one of its timeouts.
 */
function expectCleanBoot(report: Report, allowFailed: string[] = []): void {
  expect.soft(report.failedUnits, `systemctl --failed:\n${report.sections.get('failed')}\n${report.sections.get('failed-journal')}`).toEqual(allowFailed);
  for (const m of report.journal.matchAll(/^discover: .*\(.*durationMs=(\d+).*scans=(\d+)/gm)) {
    // Several scans means it waited for udev; it must have stopped before the deadline.
    if (m[2] !== '1') expect.soft(Number(m[1]), `discovery waited: ${m[0]}`).toBeLessThan(10_000);
  }
  for (const s of agentSteps(report)) {
    if (s.name === 'find-context') continue;
    expect.soft(s.durationMs, `${s.stage}/${s.name} took ${s.durationMs} ms: ${s.message}`).toBeLessThan(stepBoundMs(s.name));
    expect.soft(s.message, `${s.stage}/${s.name}`).not.toMatch(/timed out|gave up|timeout/i);
  }
}

interface StaticExpect {
  mac: string;
  address: string;
  /** Name servers and search domains the resolver must hold: exactly these (plus what `also` adds). */
  dns: string[];
  search: string[];
  /** Resolver entries a NIC outside the context legitimately adds (its own DHCP lease). */
  also?: { dns: string[]; search: string[] };
}

/**
 * The assertions for a NIC the context makes static: exactly the context's IPv4 address on it
 * (no DHCP lease beside it), its routes exactly the context's (the subnet and the default), no DHCPv6
 * lease, and a resolver holding exactly
 * the context's name servers and search domains (resolv.conf, and resolved's view where it runs).
 */
function expectExactlyStatic(report: Report, e: StaticExpect): string {
  const nic = nicByMac(report, e.mac);
  // Soft: one boot shows every deviation at once (a boot costs minutes).
  expect.soft(addrsOf(report).filter((a) => a.startsWith(`${nic} `)), `addresses: ${addrsOf(report).join(', ')}`).toEqual([
    `${nic} ${e.address}/${NET.prefix}`,
  ]);
  const onNic = parseRoutes(report.routes).filter((r) => r.dev === nic).map((r) => `${r.dest} via ${r.via ?? '-'}`);
  expect.soft(sameSet(onNic), `routes:\n${report.routes.join('\n')}`).toEqual(sameSet([`default via ${NET.gateway}`, `10.0.2.0/${NET.prefix} via -`]));
  // IPv6: QEMU's router advertises fec0::/64 and every backend leaves router advertisements on for a
  // NIC the context gives no IPv6 (as the distributions do), so a SLAAC /64 may be there; a DHCPv6
  // lease (/128) may not.
  expect.soft(report.addresses6.filter((a) => a.ifname === nic && a.prefix === 128), `IPv6: ${report.sections.get('addr6')}`).toEqual([]);

  const dns = sameSet([...e.dns, ...(e.also?.dns ?? [])]);
  const search = sameSet([...e.search, ...(e.also?.search ?? [])]);
  const resolv = report.sections.get('resolv') ?? '';
  if (report.nameservers.includes('127.0.0.53')) {
    // systemd-resolved: the stub in resolv.conf, the servers and domains in resolved (global + per link).
    expect.soft(report.nameservers, resolv).toEqual(['127.0.0.53']);
    const servers = resolvedByScope(report.sections.get('resolved') ?? '');
    expect.soft(sameSet(Object.values(servers).flat()), report.sections.get('resolved')).toEqual(dns);
    expect.soft(sameSet([...(servers.Global ?? []), ...(servers[nic] ?? [])]), 'the context NIC and global servers').toEqual(sameSet(e.dns));
    expect.soft(sameSet(report.resolvedDomains), report.sections.get('resolved-domain')).toEqual(search);
  } else {
    expect.soft(sameSet(report.nameservers), resolv).toEqual(dns);
  }
  expect.soft(sameSet(report.searchDomains), resolv).toEqual(search);
  return nic;
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
      const d = spec.disk ?? disk;
      const result = await bootVm({
        kernel: d.kernel,
        initrd: d.initrd,
        disk: spec.overlay,
        iso: spec.iso,
        cdBus: spec.bus,
        mac: spec.mac,
        predictableNames: spec.predictableNames,
        extraNics: spec.extraNics,
        dhcpDomain: DHCP_DOMAIN,
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
    /** Marks the last boot's row as passed once its assertions held (afterEach undoes it on a soft failure). */
    function passed(report: Report): void {
      (report as Report & { row: BootRow }).row.passed = true;
    }
    let rowsBefore = 0;
    beforeEach(() => {
      rowsBefore = rows.length;
    });
    afterEach((ctx) => {
      // Only the rows this test added (a test that failed before booting added none).
      if ((ctx.task.result?.errors?.length ?? 0) > 0) for (const r of rows.slice(rowsBefore)) r.passed = false;
    });

    const timeout = BOOT_TIMEOUT_MS * 2 + 60_000;
    const staticMac = { ide: '52:54:00:c0:00:11', virtio: '52:54:00:c0:00:12', scsi: '52:54:00:c0:00:13' } as const;
    const staticAddr = { ide: '10.0.2.21', virtio: '10.0.2.22', scsi: '10.0.2.23' } as const;

    const ctxDns = [NET.dns];
    /** Static context from `contextgen iso`, on one CD bus: hostname, address, route, DNS, search, post-install. */
    async function staticScenario(bus: 'ide' | 'virtio' | 'scsi', predictable: boolean): Promise<void> {
      const hostname = `vm-${variant}-${bus}`;
      const instanceId = `${variant}-${bus}-1`;
      const iso = await contextgenIso(join(work, `${bus}.iso`), {
        hostname,
        mac: staticMac[bus],
        address: `${staticAddr[bus]}/${NET.prefix}`,
        gateway: NET.gateway,
        dns: NET.dns,
        search: SEARCH,
        instanceId,
        postInstall,
      });
      overlays[bus] = await makeOverlay(disk, join(work, `${bus}.qcow2`));
      const report = await boot({ scenario: bus, overlay: overlays[bus]!, iso, bus, mac: staticMac[bus], predictableNames: predictable });

      expect(report.hostname).toBe(hostname);
      const nic = expectExactlyStatic(report, { mac: staticMac[bus], address: staticAddr[bus], dns: ctxDns, search: SEARCH });
      expectNicName(report, nic, predictable);
      expect(defaultGateway(report)).toBe(NET.gateway);
      expect(report.postInstallRuns).toBe(1);
      expect(report.status?.result, JSON.stringify(report.status)).toBe('ok');
      expect(report.status?.instanceId).toBe(instanceId);
      expectCleanBoot(report);
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
        expectExactlyStatic(report, { mac: staticMac.ide, address: staticAddr.ide, dns: ctxDns, search: SEARCH });
        expect(report.postInstallRuns).toBe(1);
        expect(report.status?.result).toBe('ok');
        expectCleanBoot(report);
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
          search: ['reborn.example'],
          instanceId: `${variant}-ide-2`,
          postInstall,
        });
        const report = await boot({ scenario: 'new-instance', overlay: overlays.ide!, iso, bus: 'ide', mac: staticMac.ide, predictableNames: false });
        expect(report.hostname).toBe(`vm-${variant}-reborn`);
        // Exactly the new address and domains: the old instance's are gone, not left next to the new ones.
        expectExactlyStatic(report, { mac: staticMac.ide, address: '10.0.2.31', dns: ctxDns, search: ['reborn.example'] });
        expect(report.postInstallRuns).toBe(2);
        expect(report.status?.instanceId).toBe(`${variant}-ide-2`);
        expect(report.status?.result).toBe('ok');
        expectCleanBoot(report);
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
        // A Snooze context names no search domain: none may appear (a DHCP client's would).
        const nic = expectExactlyStatic(report, { mac, address: '10.0.2.42', dns: ctxDns, search: [] });
        expectNicName(report, nic, true);
        expect(report.postInstallRuns).toBe(1);
        expect(report.status?.result, JSON.stringify(report.status)).toBe('ok');
        expectCleanBoot(report);
        passed(report);
      }, timeout);
    }

    if (scenarios.includes('zisofs')) {
      it('zisofs CD (genisoimage -z): the built-in reader refuses it, the guest kernel\'s mount reads it', async () => {
        const mac = '00:16:0a:00:02:2c'; // 10.0.2.44
        const dir = snoozeDir(
          join(work, 'zisofs'),
          ['NETWORK=10.0.2.0', 'NETMASK=255.255.255.0', 'BROADCAST=10.0.2.255', `GATEWAY=${NET.gateway}`, `NAMESERVER=${NET.dns}`],
        );
        const iso = await zisofsIso(join(work, 'zisofs.iso'), dir);
        const overlay = await makeOverlay(disk, join(work, 'zisofs.qcow2'));
        const report = await boot({ scenario: 'zisofs', overlay, iso, bus: 'ide', mac, predictableNames: false });
        expect(report.status?.source?.method, JSON.stringify(report.status?.source)).toBe('mount');
        expectExactlyStatic(report, { mac, address: '10.0.2.44', dns: ctxDns, search: [] });
        // The script ran, so it was decompressed: read as stored it would not even start with #!.
        expect(report.postInstallRuns).toBe(1);
        expect(report.status?.result, JSON.stringify(report.status)).toBe('ok');
        expectCleanBoot(report);
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
        // One DHCP lease on the NIC, whoever runs the client (the image's own stanza/profile or the agent's fallback).
        expect(addrsOf(report), 'addresses').toEqual([`${nic!.ifname} ${NET.dhcp}/${NET.prefix}`]);
        expectCleanBoot(report);
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
        expectCleanBoot(report, BROKEN_FAILED_UNITS);
        passed(report);
      }, timeout);
    }

    if (scenarios.includes('two-nics')) {
      it('two NICs, predictable names: the context NIC exactly static, the other left to the image', async () => {
        const mac = '52:54:00:c0:00:41';
        const other = '52:54:00:c0:00:42';
        const iso = await contextgenIso(join(work, 'two-nics.iso'), {
          hostname: `vm-${variant}-two`, mac, address: `10.0.2.24/${NET.prefix}`, gateway: NET.gateway, dns: NET.dns,
          search: SEARCH, instanceId: `${variant}-two-1`, postInstall,
        });
        const overlay = await makeOverlay(disk, join(work, 'two-nics.qcow2'));
        const report = await boot({
          scenario: 'two-nics', overlay, iso, bus: 'ide', mac, predictableNames: true, extraNics: [{ mac: other, net: NET2.net }],
        });
        const second = nicByMac(report, other);
        // What the image's own configuration does with a NIC the context leaves alone: networkd's catch-all
        // and NetworkManager's auto-default still give it DHCP (our exclusions name only the context NIC);
        // the ifupdown image has no stanza for it, so it stays unconfigured.
        const imageDhcp = variant !== 'ifupdown';
        const also = imageDhcp ? { dns: [NET2.dns], search: variant === 'networkmanager' ? [DHCP_DOMAIN] : [] } : undefined;
        const nic = expectExactlyStatic(report, { mac, address: '10.0.2.24', dns: ctxDns, search: SEARCH, also });
        expectNicName(report, nic, true);
        expect(addrsOf(report).filter((a) => a.startsWith(`${second} `)), 'second NIC').toEqual(imageDhcp ? [`${second} ${NET2.dhcp}/24`] : []);
        // Untouched by the agent: none of its own network files names the second NIC or its MAC.
        const ours = report.sections.get('ours') ?? '';
        expect(ours, 'the agent wrote network files').toContain('contextualization');
        expect(ours).not.toContain(second);
        expect(ours.toLowerCase()).not.toContain(other);
        expect(report.status?.result, JSON.stringify(report.status)).toBe('ok');
        expectCleanBoot(report);
        passed(report);
      }, timeout);
    }

    if (scenarios.includes('rc-local')) {
      it('agent started from rc.local (install --init rc.local): live reconfiguration once the image brought the NIC up by DHCP', async () => {
        const rcDisk = await makeRunDisk(variant, work, { init: 'rc.local', name: `${variant}-rc-local` });
        const mac = '52:54:00:c0:00:51';
        const iso = await contextgenIso(join(work, 'rc-local.iso'), {
          hostname: `vm-${variant}-rc`, mac, address: `10.0.2.25/${NET.prefix}`, gateway: NET.gateway, dns: NET.dns,
          search: SEARCH, instanceId: `${variant}-rc-1`, postInstall,
        });
        const overlay = await makeOverlay(rcDisk, join(work, 'rc-local.qcow2'));
        const report = await boot({ scenario: 'rc-local', overlay, iso, bus: 'ide', mac, predictableNames: false, disk: rcDisk });
        expect(report.hostname).toBe(`vm-${variant}-rc`);
        const nic = expectExactlyStatic(report, { mac, address: '10.0.2.25', dns: ctxDns, search: SEARCH });
        expectNicName(report, nic, false);
        expect(report.postInstallRuns).toBe(1);
        expect(report.status?.result, JSON.stringify(report.status)).toBe('ok');
        expect(report.timeline['contextualization-local.service'], 'no systemd unit of the agent').toBeUndefined();
        expectCleanBoot(report);
        passed(report);
      }, timeout + 10 * 60_000);
    }
  });
}

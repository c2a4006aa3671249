import { describe, expect, it } from 'vitest';
import { qemuArgs } from './qemu.js';
import { agentMs, agentSteps, defaultGateway, parseReport, parseRoutes, resolvedByScope } from './report.js';

// Pure checks of the harness itself (no VM): the report parser and the QEMU command line.
const CONSOLE = [
  '[    1.234] some kernel line',
  '',
  '=== VM-REPORT BEGIN ===\r',
  '=== hostname ===\r',
  'vm-a\r',
  '=== addr ===',
  '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
  '2: ens3    inet 10.0.2.21/24 brd 10.0.2.255 scope global ens3\\       valid_lft forever preferred_lft forever',
  '=== addr6 ===',
  '1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever',
  '2: ens3    inet6 fe80::5054:ff:fec0:11/64 scope link \\       valid_lft forever preferred_lft forever',
  '2: ens3    inet6 fec0::5054:ff:fec0:11/64 scope site dynamic mngtmpaddr \\       valid_lft 86391sec preferred_lft 14391sec',
  '=== route ===',
  'default via 10.0.2.2 dev ens3 onlink ',
  '10.0.2.0/24 dev ens3 proto kernel scope link src 10.0.2.21 ',
  '=== links ===',
  '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT',
  '2: ens3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:C0:00:11 brd ff:ff:ff:ff:ff:ff',
  '3: ens4: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:c0:00:41 brd ff:ff:ff:ff:ff:ff',
  '=== resolv ===',
  'nameserver 127.0.0.53',
  'search ctx.example lab.example',
  '=== resolved ===',
  'Global:',
  'Link 2 (ens3): 10.0.2.3',
  'Link 3 (ens4):',
  '=== resolved-domain ===',
  'Global:',
  'Link 2 (ens3): ctx.example lab.example ~.',
  'Link 3 (ens4):',
  '=== post-install ===',
  'run 1700000000 vm-a',
  '=== status ===',
  '{"schema":1,"result":"ok","instanceId":"i-1","source":{"kind":"device"},"stages":[{"stage":"local","result":"ok","durationMs":700,"steps":[{"name":"discover","result":"ok","message":"","durationMs":400},{"name":"network","result":"ok","message":"","durationMs":250}]},{"stage":"final","result":"ok","durationMs":300,"steps":[]}]}',
  '=== failed ===',
  '=== uptime ===',
  '41.50 30.00',
  '=== timeline ===',
  'contextualization-local.service 30500000',
  'network-online.target 36250000',
  'contextualization-final.service 0',
  '=== journal ===',
  'applied network',
  '=== VM-REPORT END ===',
  '[   20.0] reboot: Power down',
].join('\n');

describe('vm report parser', () => {
  it('reads every section of a complete report', () => {
    const r = parseReport(CONSOLE)!;
    expect(r.hostname).toBe('vm-a');
    expect(r.addresses).toEqual([
      { ifname: 'lo', address: '127.0.0.1', prefix: 8 },
      { ifname: 'ens3', address: '10.0.2.21', prefix: 24 },
    ]);
    expect(defaultGateway(r)).toBe('10.0.2.2');
    expect(r.links).toEqual(['ens3', 'ens4']);
    expect(r.macs).toEqual({ ens3: '52:54:00:c0:00:11', ens4: '52:54:00:c0:00:41' });
    expect(r.addresses6).toEqual([{ ifname: 'ens3', address: 'fec0::5054:ff:fec0:11', prefix: 64 }]);
    expect(r.searchDomains).toEqual(['ctx.example', 'lab.example']);
    expect(r.resolvedDomains).toEqual(['ctx.example', 'lab.example']);
    expect(resolvedByScope(r.sections.get('resolved')!)).toEqual({ Global: [], ens3: ['10.0.2.3'], ens4: [] });
    expect(parseRoutes(r.routes)).toEqual([
      { dest: 'default', via: '10.0.2.2', dev: 'ens3' },
      { dest: '10.0.2.0/24', via: undefined, dev: 'ens3' },
    ]);
    expect(agentSteps(r).map((s) => `${s.stage}/${s.name} ${s.durationMs}`)).toEqual(['local/discover 400', 'local/network 250']);
    expect(r.nameservers).toEqual(['127.0.0.53']);
    expect(r.dnsServers).toEqual(['10.0.2.3']);
    expect(r.postInstallRuns).toBe(1);
    expect(r.status?.instanceId).toBe('i-1');
    expect(agentMs(r)).toBe(1000);
    expect(r.failedUnits).toEqual([]);
    expect(r.journal).toBe('applied network');
    expect(r.uptimeS).toBe(41.5);
    expect(r.timeline).toEqual({ 'contextualization-local.service': 30.5, 'network-online.target': 36.25 });
  });

  it("resolved's `search .` (no search domain) reads as none", () => {
    const r = parseReport(CONSOLE.replace('search ctx.example lab.example', 'search .'))!;
    expect(r.searchDomains).toEqual([]);
  });
  it('gives nothing for a console without a complete report', () => {
    expect(parseReport('=== VM-REPORT BEGIN ===\n=== hostname ===\nx\n')).toBeUndefined();
    expect(parseReport('kernel panic')).toBeUndefined();
  });
});

describe('qemu command line', () => {
  const base = { kernel: 'k', initrd: 'i', disk: 'd.qcow2', mac: '52:54:00:00:00:01', timeoutMs: 1, consoleLog: 'c' };
  it('uses TCG, a virtio root and keeps eth0 names on request', () => {
    const a = qemuArgs({ ...base, predictableNames: false });
    expect(a.slice(0, 2)).toEqual(['-accel', 'tcg']);
    expect(a[a.indexOf('-append') + 1]).toContain('net.ifnames=0');
    expect(a).toContain('user,model=virtio-net-pci,mac=52:54:00:00:00:01');
  });
  it('adds more NICs on their own user networks, and a DHCP domain on every NIC', () => {
    const a = qemuArgs({ ...base, predictableNames: true, extraNics: [{ mac: '52:54:00:00:00:02', net: '10.0.3.0/24' }], dhcpDomain: 'dhcp.invalid' });
    const nics = a.filter((_, i) => a[i - 1] === '-nic');
    expect(nics).toEqual([
      'user,model=virtio-net-pci,mac=52:54:00:00:00:01,domainname=dhcp.invalid',
      'user,net=10.0.3.0/24,model=virtio-net-pci,mac=52:54:00:00:00:02,domainname=dhcp.invalid',
    ]);
  });
  it('attaches the ISO on the chosen bus', () => {
    const scsi = qemuArgs({ ...base, predictableNames: true, iso: 'c.iso', cdBus: 'scsi' });
    expect(scsi).toContain('scsi-cd,bus=scsi0.0,drive=ctxcd');
    expect(scsi[scsi.indexOf('-append') + 1]).not.toContain('net.ifnames');
    expect(qemuArgs({ ...base, predictableNames: true, iso: 'c.iso', cdBus: 'virtio' }).join(' ')).toContain('if=virtio,media=disk,readonly=on');
    expect(qemuArgs({ ...base, predictableNames: true, iso: 'c.iso', cdBus: 'ide' }).join(' ')).toContain('if=ide,media=cdrom');
  });
});

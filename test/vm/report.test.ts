import { describe, expect, it } from 'vitest';
import { qemuArgs } from './qemu.js';
import { agentMs, defaultGateway, parseReport } from './report.js';

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
  '=== route ===',
  'default via 10.0.2.2 dev ens3 onlink ',
  '10.0.2.0/24 dev ens3 proto kernel scope link src 10.0.2.21 ',
  '=== links ===',
  '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT',
  '2: ens3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP mode DEFAULT',
  '=== resolv ===',
  'nameserver 127.0.0.53',
  '=== resolved ===',
  'Global:',
  'Link 2 (ens3): 10.0.2.3',
  '=== post-install ===',
  'run 1700000000 vm-a',
  '=== status ===',
  '{"schema":1,"result":"ok","instanceId":"i-1","source":{"kind":"device"},"stages":[{"stage":"local","result":"ok","durationMs":700,"steps":[]},{"stage":"final","result":"ok","durationMs":300,"steps":[]}]}',
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
    expect(r.links).toEqual(['ens3']);
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
  it('attaches the ISO on the chosen bus', () => {
    const scsi = qemuArgs({ ...base, predictableNames: true, iso: 'c.iso', cdBus: 'scsi' });
    expect(scsi).toContain('scsi-cd,bus=scsi0.0,drive=ctxcd');
    expect(scsi[scsi.indexOf('-append') + 1]).not.toContain('net.ifnames');
    expect(qemuArgs({ ...base, predictableNames: true, iso: 'c.iso', cdBus: 'virtio' }).join(' ')).toContain('if=virtio,media=disk,readonly=on');
    expect(qemuArgs({ ...base, predictableNames: true, iso: 'c.iso', cdBus: 'ide' }).join(' ')).toContain('if=ide,media=cdrom');
  });
});

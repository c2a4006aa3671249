import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { REPORT_END } from './report.js';

/**
 * Boots one guest under QEMU with software emulation (KVM hangs on this machine kind) and returns
 * what it printed on the serial console. The guest powers itself off after printing its report
 * (scripts/vm/guest/vm-report); a guest that does not is killed at the deadline and the boot fails
 * with the console tail, so a hung boot never hangs the suite.
 */

/** How the context CD is attached, i.e. which guest driver finds it. */
/**
 * How long one guest may take from spawn to power-off before it counts as hung. A boot takes 40-75 s
 * on an idle 2-core host, 150-250 s while the rest of the suite runs beside two guests (CI), so the
 * default leaves room for that; a real hang still ends the test, with the console tail.
 */
export const BOOT_TIMEOUT_MS = Number(process.env.VM_BOOT_TIMEOUT_MS ?? 480_000);

export type CdBus =
  /** IDE CD-ROM on the PIIX controller: guest /dev/sr0 (ata_piix + sr_mod). */
  | 'ide'
  /** The ISO as a read-only virtio-blk disk: guest /dev/vdb (what OpenStack config drives do). */
  | 'virtio'
  /** CD-ROM on a virtio-scsi controller: guest /dev/sr0 (virtio_scsi + sr_mod). */
  | 'scsi';

export interface BootOptions {
  /** SMBIOS system UUID (/sys/class/dmi/id/product_uuid in the guest). */
  uuid?: string;
  kernel: string;
  initrd: string;
  /** Root disk (qcow2 overlay): attached as virtio-blk, guest /dev/vda. */
  disk: string;
  iso?: string;
  cdBus?: CdBus;
  /** MAC of the single virtio NIC on QEMU user networking (10.0.2.0/24, gw .2, DNS .3, DHCP .15). */
  mac: string;
  /** false: keep the kernel's eth0 names (net.ifnames=0); true: predictable names (ens3/enp0s3). */
  predictableNames: boolean;
  /**
   * More virtio NICs, each on its own QEMU user network (net = its subnet, e.g. 10.0.3.0/24: DHCP
   * hands out .15, gateway .2, DNS .3), after the first NIC on the PCI bus.
   */
  extraNics?: { mac: string; net: string }[];
  /** Domain name QEMU's DHCP server hands out on every NIC: shows in resolv.conf when a DHCP client wrote it. */
  dhcpDomain?: string;
  timeoutMs: number;
  /** The whole console output is also written here, for post-mortems. */
  consoleLog: string;
  memoryMb?: number;
  /** Record every frame of the user-net NIC (both ways) to this pcap file (QEMU's filter-dump). */
  pcap?: string;
}

export interface BootResult {
  console: string;
  /** Wall time from spawning QEMU to the report's end marker on the console. */
  bootMs: number;
  /** Wall time until QEMU exited (guest powered off). */
  totalMs: number;
}

export class BootError extends Error {
  constructor(
    message: string,
    readonly consoleText: string,
  ) {
    super(`${message}\n--- console tail ---\n${tail(consoleText, 60)}`);
    this.name = 'BootError';
  }
}

export function tail(text: string, n: number): string {
  return text.replace(/\r/g, '').split('\n').slice(-n).join('\n');
}

/** The QEMU argv for a boot: kept separate so its shape can be checked without booting. */
export function qemuArgs(o: BootOptions): string[] {
  const append = ['root=/dev/vda', 'rw', 'console=ttyS0', 'panic=-1', 'quiet', 'loglevel=4'];
  if (!o.predictableNames) append.push('net.ifnames=0');
  const args = [
    '-accel', 'tcg',
    '-m', String(o.memoryMb ?? 512),
    '-smp', '1',
    '-display', 'none',
    '-monitor', 'none',
    '-serial', 'stdio',
    '-no-reboot',
    '-kernel', o.kernel,
    '-initrd', o.initrd,
    '-append', append.join(' '),
    '-drive', `file=${o.disk},format=qcow2,if=virtio,cache=unsafe`,
    '-nic', `user,model=virtio-net-pci,mac=${o.mac}${dhcpOpts(o)}`,
  ];
  // filter-dump needs the NIC's netdev by id; named only then, so other boots keep their argv.
  if (o.pcap) {
    const nic = args.lastIndexOf(`user,model=virtio-net-pci,mac=${o.mac}${dhcpOpts(o)}`);
    if (nic < 0) throw new Error('pcap: no user-net NIC to record');
    args[nic] = `user,id=pcapnet,model=virtio-net-pci,mac=${o.mac}${dhcpOpts(o)}`;
    args.push('-object', `filter-dump,id=pcapdump,netdev=pcapnet,file=${o.pcap}`);
  }
  for (const n of o.extraNics ?? []) args.push('-nic', `user,net=${n.net},model=virtio-net-pci,mac=${n.mac}${dhcpOpts(o)}`);
  // The SMBIOS UUID (what libvirt sets from the domain's <uuid>): what a signed context is bound to.
  if (o.uuid) args.push('-uuid', o.uuid);
  if (o.iso) {
    switch (o.cdBus ?? 'ide') {
      case 'ide':
        args.push('-drive', `file=${o.iso},format=raw,if=ide,media=cdrom,readonly=on`);
        break;
      case 'virtio':
        args.push('-drive', `file=${o.iso},format=raw,if=virtio,media=disk,readonly=on`);
        break;
      case 'scsi':
        args.push(
          '-device', 'virtio-scsi-pci,id=scsi0',
          '-drive', `file=${o.iso},format=raw,if=none,id=ctxcd,media=cdrom,readonly=on`,
          '-device', 'scsi-cd,bus=scsi0.0,drive=ctxcd',
        );
        break;
    }
  }
  return args;
}

function dhcpOpts(o: BootOptions): string {
  return o.dhcpDomain ? `,domainname=${o.dhcpDomain}` : '';
}

export function bootVm(o: BootOptions): Promise<BootResult> {
  const started = performance.now();
  const log = createWriteStream(o.consoleLog);
  const child = spawn('qemu-system-x86_64', qemuArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  let bootMs: number | undefined;

  return new Promise<BootResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new BootError(`guest did not power off within ${o.timeoutMs / 1000} s`, out));
    }, o.timeoutMs);

    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      log.end();
      if (err) return reject(err);
      if (bootMs === undefined) return reject(new BootError('guest powered off without a complete report', out));
      resolve({ console: out, bootMs, totalMs: Math.round(performance.now() - started) });
    };

    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      log.write(chunk);
      if (bootMs === undefined && out.includes(REPORT_END)) bootMs = Math.round(performance.now() - started);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (err) => finish(new BootError(`cannot start qemu-system-x86_64: ${err.message}`, out)));
    child.on('close', (code, signal) => {
      if (code !== 0 && signal === null) return finish(new BootError(`qemu exited with ${code}: ${stderr.trim()}`, out));
      finish();
    });
  });
}

/**
 * What a generated domain is made of, independent of the output format. Builders take a DomainSpec
 * whose values were validated already (see validateDomainSpec); they never see raw operator input.
 */
import { isAbsolute } from 'node:path';
import type { Problem } from '../../../lib/context/errors.js';
import { checkBridge, checkConfigPath, checkInt, checkNetworkName, checkUuid, checkVmName } from '../values.js';
import { checkMac } from '../mac.js';

export const HYPERVISORS = ['kvm', 'qemu', 'xen'] as const;
export type Hypervisor = (typeof HYPERVISORS)[number];
export const CDROM_BUSES = ['ide', 'sata', 'scsi', 'virtio', 'xen'] as const;
export type CdromBus = (typeof CDROM_BUSES)[number];
export const DISK_FORMATS = ['qcow2', 'raw'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];
export const DOMAIN_FORMATS = ['libvirt', 'xl'] as const;
export type DomainFormat = (typeof DOMAIN_FORMATS)[number];
export const GUEST_TYPES = ['hvm', 'pv'] as const;
export type GuestType = (typeof GUEST_TYPES)[number];

export interface NicSpec {
  mac: string;
  /** A host bridge, (libvirt only) a libvirt network such as "default", or QEMU user-mode networking (no name). */
  source: { kind: 'bridge' | 'network'; name: string } | { kind: 'user'; name?: undefined };
}

/** A libvirt storage volume (`<disk type='volume'><source pool= volume=/>`): a disk on a remote host. */
export interface VolumeRef {
  pool: string;
  volume: string;
}

export interface DomainSpec {
  name: string;
  uuid: string;
  memoryMiB: number;
  vcpus: number;
  hypervisor: Hypervisor;
  guestType: GuestType;
  /** `path` is a file on the hypervisor's host; with `volume` the disk is that pool volume instead. */
  disk: { path: string; format: DiskFormat; volume?: VolumeRef };
  context: { path: string; bus: CdromBus; volume?: VolumeRef };
  nics: NicSpec[];
  /** Direct kernel boot (paths on the hypervisor's host). */
  boot?: { kernel: string; initrd?: string; cmdline?: string };
  /** The serial console is also logged to this file on the hypervisor's host. */
  consoleLog?: string;
}

/**
 * Guest device names, chosen so the seeds' probe list finds the CD: a CD-ROM on IDE, SATA or SCSI
 * shows up as sr0 in any modern guest (the target name is only libvirt's slot hint), a virtio-blk
 * disk as vdb, a Xen PV disk as xvdb. hdc (IDE secondary master) is the classic CD-ROM slot.
 */
export const CDROM_TARGET: Record<CdromBus, string> = { ide: 'hdc', sata: 'sdb', scsi: 'sdb', virtio: 'vdb', xen: 'xvdb' };

export function defaultCdromBus(h: Hypervisor): CdromBus {
  return h === 'xen' ? 'xen' : 'sata';
}

/** Which CD-ROM buses each hypervisor can attach the ISO on. */
export const BUSES_FOR: Record<Hypervisor, readonly CdromBus[]> = {
  kvm: ['ide', 'sata', 'scsi', 'virtio'],
  qemu: ['ide', 'sata', 'scsi', 'virtio'],
  xen: ['ide', 'xen'],
};

/** Every problem with a spec (values and their combination), named after the flag/key in `where`. */
export function validateDomainSpec(spec: DomainSpec, format: DomainFormat, file: string, where: (field: string) => string): Problem[] {
  const problems: Problem[] = [];
  const add = (field: string, value: string | undefined, why: string) => problems.push({ file, key: where(field), value, why });
  const name = checkVmName(spec.name);
  if (!name.ok) add('name', spec.name, name.why);
  const uuid = checkUuid(spec.uuid);
  if (!uuid.ok) add('uuid', spec.uuid, uuid.why);
  const mem = checkInt(String(spec.memoryMiB), 16, 16 * 1024 * 1024, 'MiB');
  if (!mem.ok) add('memory', String(spec.memoryMiB), mem.why);
  const cpus = checkInt(String(spec.vcpus), 1, 4096);
  if (!cpus.ok) add('vcpus', String(spec.vcpus), cpus.why);
  const paths: [string, string][] = [];
  if (!spec.disk.volume) paths.push(['disk', spec.disk.path]);
  if (!spec.context.volume) paths.push(['context', spec.context.path]);
  if (spec.boot) paths.push(['kernel', spec.boot.kernel], ...(spec.boot.initrd ? [['initrd', spec.boot.initrd] as [string, string]] : []));
  if (spec.consoleLog) paths.push(['console-log', spec.consoleLog]);
  if ((spec.boot || spec.consoleLog || spec.disk.volume || spec.context.volume) && format === 'xl') add('format', format, 'kernel boot, console logs and pool volumes are written for libvirt only');
  for (const [field, p] of paths) {
    const c = checkConfigPath(p);
    if (!c.ok) add(field, p, c.why);
    else if (!isAbsolute(p)) add(field, p, 'path must be absolute (the hypervisor resolves it, not this shell)');
  }
  if (!BUSES_FOR[spec.hypervisor].includes(spec.context.bus)) {
    add('cdrom-bus', spec.context.bus, `not available with ${spec.hypervisor} (use ${BUSES_FOR[spec.hypervisor].join(', ')})`);
  }
  if (format === 'xl' && spec.hypervisor !== 'xen') add('format', format, 'xl config is for the xen hypervisor');
  if (spec.guestType === 'pv' && spec.hypervisor !== 'xen') add('guest-type', 'pv', 'paravirtualised guests need the xen hypervisor');
  if (spec.guestType === 'pv' && spec.context.bus !== 'xen') add('cdrom-bus', spec.context.bus, 'a Xen PV guest has no emulated buses; use xen');
  const macs = new Set<string>();
  spec.nics.forEach((nic, i) => {
    const m = checkMac(nic.mac);
    if (!m.ok) add(`nic[${i}].mac`, nic.mac, m.why);
    else if (macs.has(m.value)) add(`nic[${i}].mac`, nic.mac, 'MAC used twice in one domain');
    else macs.add(m.value);
    if (nic.source.kind === 'user') {
      if (format === 'xl') add(`nic[${i}].user`, 'user', 'xl config takes bridges only');
      return;
    }
    const s = nic.source.kind === 'bridge' ? checkBridge(nic.source.name) : checkNetworkName(nic.source.name);
    if (!s.ok) add(`nic[${i}].${nic.source.kind}`, nic.source.name, s.why);
    if (nic.source.kind === 'network' && format === 'xl') add(`nic[${i}].network`, nic.source.name, 'xl config takes bridges only');
  });
  return problems;
}

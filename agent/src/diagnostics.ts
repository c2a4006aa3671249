/**
 * `contextualization status --system`: what the guest looks like, for a person debugging a boot.
 * Uses systeminformation, which is thorough but slow (~70 ms and dozens of child processes), so it
 * stays here and never runs on the boot path (that reads /sys directly, see network/sysfs.ts).
 */
import si from 'systeminformation';
import { listNics } from './network/sysfs.js';

export async function systemReport(): Promise<string> {
  const [ifaces, disks, os] = await Promise.all([si.networkInterfaces(), si.blockDevices(), si.osInfo()]);
  const lines = [`system: ${os.distro} ${os.release} (kernel ${os.kernel}, ${os.arch})`];
  const seen = new Set(listNics('/').map((n) => n.name));
  lines.push('network interfaces (systeminformation; * = what the agent considers a physical NIC):');
  for (const i of Array.isArray(ifaces) ? ifaces : [ifaces]) {
    const addrs = [i.ip4 && `${i.ip4}/${i.ip4subnet}`, i.ip6].filter(Boolean).join(' ');
    lines.push(`  ${seen.has(i.iface) ? '*' : ' '} ${i.iface.padEnd(12)} ${(i.mac || '-').padEnd(17)} ${i.operstate.padEnd(5)} ${addrs}`);
  }
  lines.push('block devices (an ISO 9660 labelled CONTEXT or CDROM is a candidate context CD):');
  for (const d of disks) {
    lines.push(`    /dev/${d.name.padEnd(8)} ${d.type.padEnd(5)} ${(d.fsType || '-').padEnd(8)} ${(d.label || '-').padEnd(12)} ${d.size} bytes${d.mount ? ` on ${d.mount}` : ''}`);
  }
  return lines.join('\n');
}

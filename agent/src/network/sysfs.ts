/**
 * NIC discovery from /sys/class/net. Boot path: plain synchronous reads, no child processes
 * (no `ip link`, no udevadm), a handful of tiny files per interface.
 */
import { RootFs } from '../../../lib/fs/index.js';
import { normalizeMac } from '../../../lib/net/ip.js';
import type { SystemNic } from '../types/network.js';

/** ARPHRD_ETHER from <linux/if_arp.h>: /sys/class/net/X/type of Ethernet (and virtio/xen/e1000) NICs. */
const ARPHRD_ETHER = '1';

/** A sysfs attribute, trimmed; undefined when absent or unreadable (carrier gives EINVAL while the link is down). */
/** `dir` is already resolved in the root (no link among its components). */
function readAttr(fs: RootFs, dir: string, name: string): string | undefined {
  try {
    return fs.readFileIfRegular(`${dir}/${name}`, { maxBytes: 4096 })?.toString('utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Every Ethernet interface, virtual ones included (physical=false), sorted by name in natural order
 * (eth2 before eth10) so "the first NIC" is stable across boots. Skips lo, non-Ethernet link types
 * (InfiniBand, tun, sit...) and interfaces without a usable MAC.
 */
export function readEthernetNics(root: RootFs | string = '/'): SystemNic[] {
  const fs = typeof root === 'string' ? new RootFs(root) : root;
  const classNet = '/sys/class/net';
  // No sysfs (containers, bare image roots): nothing to configure.
  const names = fs.listDir(classNet) ?? [];
  const nics: SystemNic[] = [];
  for (const name of names) {
    if (name === 'lo') continue;
    let dir: string | undefined;
    try { dir = fs.resolve(`${classNet}/${name}`); } catch { dir = undefined; }
    if (dir === undefined || readAttr(fs, dir, 'type') !== ARPHRD_ETHER) continue;
    const mac = normalizeMac(readAttr(fs, dir, 'address') ?? '');
    if (!mac || mac === '00:00:00:00:00:00') continue;
    const carrierRaw = readAttr(fs, dir, 'carrier');
    const carrier = carrierRaw === '1' ? true : carrierRaw === '0' ? false : undefined;
    // `device` is a symlink to the bus device (PCI, virtio, xen vif); bridges, bonds, veth and docker0 have none.
    // lstat: the link itself is what counts, even if its target is outside a fake root.
    const physical = fs.kind(`${dir}/device`) !== 'absent';
    nics.push(carrier === undefined ? { name, mac, physical } : { name, mac, carrier, physical });
  }
  return nics.sort((a, b) => naturalCompare(a.name, b.name));
}

/** Names with digit runs compared as numbers (eth2 < eth10). Plain code: an ICU collator costs ms at first use. */
function naturalCompare(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y) && Number(x) !== Number(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}

/** The NICs the agent may configure: physical Ethernet interfaces (see readEthernetNics). */
export function listNics(root: RootFs | string = '/'): SystemNic[] {
  return readEthernetNics(root).filter((n) => n.physical);
}

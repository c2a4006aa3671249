/**
 * Grow the root filesystem to its disk on a new instance (a clone is often given a bigger disk than
 * the base: `contextgen overlay --size 20G`). Pure: GrowRootFacts in, live-only commands out.
 *
 * The partition is grown with the distro's own `growpart` (cloud-guest-utils), which knows MBR and GPT
 * (moving GPT's backup header) and tells the kernel; without it the partition is left alone: editing a
 * mounted disk's partition table by hand is not worth the risk. Then the filesystem: resize2fs (ext2/3/4,
 * online), xfs_growfs, btrfs filesystem resize max. Each is a no-op when there is nothing to grow.
 * Layouts it does not handle get one line saying so: LVM, dm-crypt, other device-mapper, md RAID, a
 * logical partition inside an extended one, a root that is not on a block device.
 */
import type { GrowRootFacts, IdentityOptOuts } from '../system/identity-facts.js';
import { emptyPlan, info, warn, type Plan } from '../types/plan.js';

/** Room below this is not worth a growpart run (alignment slack, GPT's 33-sector backup area). */
export const MIN_GROW_SECTORS = 2048 + 34;

const mib = (sectors: number) => `${Math.round(sectors / 2048)} MiB`;

export function planGrowRoot(facts: GrowRootFacts, optOuts: IdentityOptOuts = {}): Plan {
  const plan = emptyPlan();
  // A layout it does not handle is said (info); a missing tool is a warning: installing it would grow the disk.
  const skip = (why: string, level: 'info' | 'warn' = 'info'): Plan => {
    plan.notes.push(level === 'info' ? info(`grow root: ${why}`, facts.mountPoint) : warn(`grow root: ${why}`, facts.mountPoint));
    return plan;
  };
  if (optOuts.grow_root) return skip(`not done (${optOuts.grow_root})`);
  const { mount, device, disk } = facts;
  if (!mount) return skip(`nothing is mounted at ${facts.mountPoint} in /proc/self/mountinfo (not the running system?)`);
  if (!device) return skip(`${facts.mountPoint} (${mount.fstype} from ${mount.source}) is not on a block device of /sys/class/block`);
  const uuid = device.dmUuid;
  if (uuid?.startsWith('LVM-')) return skip(`${facts.mountPoint} is on an LVM logical volume (${device.name}): growing needs pvresize and lvextend, not done`);
  if (uuid?.startsWith('CRYPT-')) return skip(`${facts.mountPoint} is on dm-crypt (${device.name}): growing needs the partition, cryptsetup resize and the filesystem, not done`);
  if (uuid !== undefined || device.name.startsWith('dm-')) return skip(`${facts.mountPoint} is on a device-mapper device (${device.name}${uuid ? `, ${uuid.split('-')[0]}` : ''}): not grown`);
  if (device.md) return skip(`${facts.mountPoint} is on md RAID (${device.name}): not grown`);

  const fs = fsGrowCommand(facts);
  if (typeof fs === 'string') return skip(fs, /not installed/.test(fs) ? 'warn' : 'info');

  if (device.partition) {
    if (!disk) return skip(`cannot find the disk of partition ${device.name} in /sys/class/block`);
    const part = device.partition;
    const end = part.start + device.size;
    const extended = facts.siblings.find((s) => s.size <= 2 && s.partition && s.partition.start < part.start);
    if (part.number >= 5 && extended) return skip(`${device.name} is a logical partition inside the extended ${extended.name}: not grown`);
    const next = facts.siblings.filter((s) => (s.partition?.start ?? -1) >= end).sort((a, b) => a.partition!.start - b.partition!.start)[0];
    const room = (next?.partition!.start ?? disk.size) - end;
    if (room < MIN_GROW_SECTORS) {
      plan.notes.push(info(next ? `grow root: ${device.name} is followed by ${next.name}: the partition is not grown` : `grow root: ${device.name} already fills ${disk.name}`, `/dev/${device.name}`));
    } else if (!facts.tools.growpart) {
      plan.notes.push(warn(`grow root: ${device.name} could grow by ${mib(room)} but growpart (cloud-guest-utils) is not installed: the partition is left as it is`, `/dev/${device.name}`));
    } else {
      plan.commands.push({
        argv: [facts.tools.growpart, `/dev/${disk.name}`, String(part.number)],
        reason: `grow partition ${device.name} by ${mib(room)} to the end of ${disk.name}`,
        when: 'live', required: false, timeoutMs: 120_000,
      });
    }
  }
  plan.commands.push({ ...fs, when: 'live', required: false, timeoutMs: 600_000 });
  return plan;
}

/** The command that grows the mounted filesystem to its device, or why there is none. */
function fsGrowCommand(facts: GrowRootFacts): { argv: string[]; reason: string } | string {
  const { mount, device, tools, mountPoint } = facts;
  const fstype = mount!.fstype;
  const reason = `grow the ${fstype} filesystem on ${mountPoint} to its device (a no-op when it already fills it)`;
  const missing = (tool: string, pkg: string) => `${fstype} on ${mountPoint}: ${tool} (${pkg}) is not installed: not grown`;
  if (/^ext[234]$/.test(fstype)) return tools.resize2fs ? { argv: [tools.resize2fs, `/dev/${device!.name}`], reason } : missing('resize2fs', 'e2fsprogs');
  if (fstype === 'xfs') return tools.xfsGrowfs ? { argv: [tools.xfsGrowfs, mountPoint], reason } : missing('xfs_growfs', 'xfsprogs');
  if (fstype === 'btrfs') return tools.btrfs ? { argv: [tools.btrfs, 'filesystem', 'resize', 'max', mountPoint], reason } : missing('btrfs', 'btrfs-progs');
  return `${mountPoint} is ${fstype}: only ext2/3/4, xfs and btrfs are grown`;
}

/**
 * Facts about the target system that the pure planner needs, read through the in-root layer. A symlink,
 * FIFO or device where a file is expected (/etc/hosts, root's authorized_keys) counts as absent: the
 * agent never reads through it, so nothing from outside an image root can leak into the plan.
 */
import type { RootFs } from '../../../lib/fs/index.js';
import { findBackendFiles } from '../network/owned.js';
import { listNics } from '../network/sysfs.js';
import type { NetworkRenderer, SystemNic, SystemView } from '../types/network.js';
import type { Facts } from '../types/plan.js';

const FACT_MAX_BYTES = 4 * 1024 * 1024;

/** Every file of the target read as a fact (besides the backends' own directories). */
export const FACT_PATHS = ['/etc/hosts', '/root/.ssh/authorized_keys', '/etc/resolv.conf'] as const;

export function gatherFacts(fs: RootFs, sys: SystemView, renderers: readonly NetworkRenderer[], declared?: SystemNic[]): Facts {
  const nics = declared?.length ? declared : listNics(fs);
  const symlinkTarget = fs.readlink('/etc/resolv.conf');
  const read = (p: string): string | undefined => fs.readFileIfRegular(p, { maxBytes: FACT_MAX_BYTES })?.toString('utf8');
  // Files matching a backend's naming but lacking its ownership marker are the user's (e.g. ifcfg-eth0 written
  // by the installer): never removed, never overwritten.
  const { owned, foreign } = findBackendFiles(fs, renderers);
  return {
    nics,
    resolvConf: symlinkTarget !== undefined ? { symlinkTarget } : {},
    currentHosts: read('/etc/hosts'),
    currentAuthorizedKeys: read('/root/.ssh/authorized_keys'),
    existingOwned: owned,
    foreign,
    sys,
  };
}

/** Read the NICs again (udev may still have been renaming them). */
export function rereadNics(fs: RootFs): SystemNic[] {
  return listNics(fs);
}

/** Why the agent must do nothing this boot, or undefined. */
export function disabledReason(fs: RootFs, flag: string): string | undefined {
  if (fs.kind(flag) !== 'absent') return `${fs.host(flag)} exists`;
  if (fs.isLive) {
    try {
      if (fs.readText('/proc/cmdline', { maxBytes: 64 * 1024 })?.split(/\s+/).includes('contextualization=disabled')) {
        return 'kernel command line has contextualization=disabled';
      }
    } catch { /* no /proc: not a live boot */ }
  }
  return undefined;
}

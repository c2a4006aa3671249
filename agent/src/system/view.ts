/**
 * The read-only SystemView the backends detect and inspect against, over a RootFs: symlinks are
 * followed inside the root (an image's absolute /sbin -> /usr/sbin stays in the image), only regular
 * files are read (a FIFO at /etc/network/interfaces is "not there", never a hang).
 */
import type { RootFs } from '../../../lib/fs/index.js';
import type { SystemView } from '../types/network.js';

const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
/** Where enablement symlinks live: the admin's (systemctl enable) and the vendor's static ones. */
const WANTS_PARENTS = ['/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export function makeSystemView(fs: RootFs): SystemView {
  const quiet = <T>(f: () => T): T | undefined => { try { return f(); } catch { return undefined; } };
  const resolved = (path: string): string | undefined => quiet(() => fs.resolve(path));
  const exists = (path: string): boolean => resolved(path) !== undefined;
  const readFile = (path: string): string | undefined => {
    const r = resolved(path);
    return r === undefined ? undefined : quiet(() => fs.readFileIfRegular(r, { maxBytes: MAX_CONFIG_BYTES })?.toString('utf8'));
  };
  const listDir = (path: string): string[] => {
    const r = resolved(path);
    return (r !== undefined ? quiet(() => fs.listDir(r)) : undefined) ?? [];
  };
  const masked = (unit: string): boolean => fs.readlink(`/etc/systemd/system/${unit}`) === '/dev/null';
  const unitEnabled = (unit: string): boolean => {
    if (masked(unit)) return false;
    if (!UNIT_DIRS.some((d) => exists(`${d}/${unit}`))) return false;
    // The link itself is the enablement; its (absolute) target need not resolve.
    return WANTS_PARENTS.some((parent) => listDir(parent).some((e) => {
      if (!e.endsWith('.wants') && !e.endsWith('.requires')) return false;
      const dir = resolved(`${parent}/${e}`);
      return dir !== undefined && quiet(() => fs.kind(`${dir}/${unit}`)) !== undefined && fs.kind(`${dir}/${unit}`) !== 'absent';
    }));
  };
  return { exists, readFile, unitEnabled, listDir };
}

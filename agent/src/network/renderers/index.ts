/**
 * The backends, their detection order, and the read-only SystemView they detect against.
 *
 * Detection order (first match wins), for a system where several are installed:
 *  1. netplan: where it exists (Ubuntu, Debian 13 cloud images) it is the front end the admin edits and
 *     it generates the networkd/NM config itself; writing networkd files beside it would compete with
 *     netplan's own (e.g. 50-cloud-init.yaml).
 *  2. NetworkManager (enabled): when it runs, it manages every device it is not told to leave alone,
 *     so it must own ours; an enabled networkd next to it is usually idle.
 *  3. systemd-networkd (enabled): the daemon in charge on minimal systemd images.
 *  4. ifupdown (/etc/network/interfaces + ifup): Debian without a daemon. After the daemons because
 *     Debian images often keep ifupdown installed while a daemon is in charge.
 *  5. ifcfg (/etc/sysconfig/network-scripts): old RHEL-family network-scripts without NetworkManager.
 *  6. ip: live iproute2 commands, nothing persistent: always available, so last.
 */
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendName, NetworkRenderer, SystemView } from '../types.js';
import { ifcfg } from './ifcfg.js';
import { ifupdown } from './ifupdown.js';
import { ip } from './ip.js';
import { netplan } from './netplan.js';
import { networkd } from './networkd.js';
import { networkmanager } from './networkmanager.js';

export const RENDERERS: Readonly<Record<BackendName, NetworkRenderer>> = {
  netplan,
  networkmanager,
  networkd,
  ifupdown,
  ifcfg,
  ip,
};

export const DETECTION_ORDER: readonly BackendName[] = ['netplan', 'networkmanager', 'networkd', 'ifupdown', 'ifcfg', 'ip'];

/** Every backend whose detect() says it is in charge, in detection order (for --dry-run and logs). */
export function detectBackends(sys: SystemView): BackendName[] {
  return DETECTION_ORDER.filter((name) => RENDERERS[name].detect(sys));
}

/** The operator's choice when given (config or command line), else the first detected backend. */
export function pickRenderer(sys: SystemView, override?: BackendName): NetworkRenderer {
  if (override) return RENDERERS[override];
  return RENDERERS[detectBackends(sys)[0] ?? 'ip'];
}

const MAX_SYMLINK_HOPS = 40; // as the kernel's MAXSYMLINKS

/**
 * Host path of `path` inside `root`, symlinks resolved as if `root` were `/` (an image's absolute
 * link /sbin -> /usr/sbin must not escape to the host's /usr/sbin). Undefined when it does not exist.
 */
export function resolveInRoot(root: string, path: string): string | undefined {
  const todo = path.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, c);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (!st.isSymbolicLink()) {
      done.push(c);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) return undefined;
    const target = readlinkSync(host);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
  }
  return join(root, ...done);
}

const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
/** Where enablement symlinks live: the admin's (systemctl enable) and the vendor's static ones. */
const WANTS_PARENTS = ['/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

/** A SystemView over the tree at `root` ("/" for the running system, an image mount for --root). */
export function makeSystemView(root: string): SystemView {
  const exists = (path: string): boolean => resolveInRoot(root, path) !== undefined;
  const readFile = (path: string): string | undefined => {
    const host = resolveInRoot(root, path);
    if (!host) return undefined;
    try {
      return readFileSync(host, 'utf8');
    } catch {
      return undefined; // a directory, or unreadable
    }
  };
  const masked = (unit: string): boolean => {
    const host = join(root, 'etc/systemd/system', unit);
    const st = lstatSync(host, { throwIfNoEntry: false });
    return st?.isSymbolicLink() === true && readlinkSync(host) === '/dev/null';
  };
  const unitEnabled = (unit: string): boolean => {
    if (masked(unit)) return false;
    if (!UNIT_DIRS.some((d) => exists(`${d}/${unit}`))) return false;
    return WANTS_PARENTS.some((parent) => {
      const dir = resolveInRoot(root, parent);
      if (!dir) return false;
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        return false;
      }
      // The link itself is the enablement; its (absolute) target need not resolve on this host.
      return entries.some(
        (e) => (e.endsWith('.wants') || e.endsWith('.requires')) && lstatSync(join(dir, e, unit), { throwIfNoEntry: false }) !== undefined,
      );
    });
  };
  const listDir = (path: string): string[] => {
    const host = resolveInRoot(root, path);
    if (!host) return [];
    try {
      return readdirSync(host).sort();
    } catch {
      return [];
    }
  };
  return { exists, readFile, unitEnabled, listDir };
}

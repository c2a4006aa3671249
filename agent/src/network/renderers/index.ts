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
import type { BackendName, NetworkRenderer, SystemView } from '../../types/network.js';
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

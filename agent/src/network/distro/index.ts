/**
 * The distribution's own network configuration, for the NICs the context configures: neutralised the
 * least invasive way the backend in charge allows, and restored everywhere else (another backend's
 * files, NICs the context no longer configures, the DHCP fallback). Per backend, what and why:
 * docs/network-backends.md. Pure over the read-only SystemView; every edit is recomputed from the
 * pristine original (distro/marks.ts), so a run that changes nothing plans files identical to the disk.
 */
import { info, type Note, type PlannedCommand, type PlannedFile } from '../../types/plan.js';
import { MARKER, liveVia } from '../renderers/common.js';
import { IFUPDOWN_UNIT } from '../renderers/ifupdown.js';
import { NM_UNIT } from '../renderers/networkmanager.js';
import { networkdPath } from '../renderers/networkd.js';
import type { BackendName, NetworkConfig, ResolvedNic, SystemView } from '../../types/network.js';
import { ifcfgEdits, ifcfgNic } from './ifcfg.js';
import { ifupdownDefines, ifupdownEdits } from './ifupdown.js';
import { networkdDropins, networkdMatches } from './networkd.js';
import { boundNic, networkManagerEdits } from './networkmanager.js';
import { restoreOriginal } from './marks.js';

export interface DistroPlan {
  files: PlannedFile[];
  /** Live only, each gated on the backend's service being active: nothing of this runs at boot. */
  commands: PlannedCommand[];
  notes: Note[];
}

const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
/** The networkd file our config for `nic` ends up in: ours directly, or netplan's output for our netplan id. */
const networkdName = (nic: ResolvedNic): string => base(networkdPath(nic));
const netplanName = (nic: ResolvedNic): string => `10-netplan-${nic.name}.network`;

/**
 * Files to write so that only the context configures `net.nics` under `backend`, and the distribution's
 * configuration is whole again for every other NIC. `rendered` is the backend's own output: where a
 * distribution file has the very path we write (ifcfg-eth0), the returned file replaces the rendered one.
 *
 * For the planner: merge these after dropping writes over foreign files (they are meant to edit the
 * distribution's files), replacing rendered files of the same path. For the DHCP fallback or a disabled
 * agent pass `{ nics: [] }`: everything is restored.
 */
export function planDistroConfig(sys: SystemView, backend: BackendName, net: NetworkConfig, rendered: readonly PlannedFile[]): DistroPlan {
  const owned = net.nics;
  // A service enabled beside the backend in charge (Debian images often keep networking.service next to
  // networkd) would configure the NIC too: its files are neutralised as well.
  const running = (b: BackendName, unit: string): boolean => backend === b || sys.unitEnabled(unit);
  const ifupdownOn = running('ifupdown', IFUPDOWN_UNIT);
  const nmOn = running('networkmanager', NM_UNIT);
  const files = [
    ...ifupdownEdits(sys, ifupdownOn ? owned : []),
    ...(backend === 'networkd' ? networkdDropins(sys, owned, networkdName) : []),
    ...(backend === 'netplan' ? networkdDropins(sys, owned, netplanName) : []),
    ...networkManagerEdits(sys, nmOn ? owned : []),
    ...ifcfgEdits(sys, nmOn || backend === 'ifcfg' ? owned : [], backend === 'ifcfg' ? rendered : []),
  ];
  const notes: Note[] = [];
  if (backend === 'netplan' && owned.length > 0 && !sys.exists('/run/systemd/network')) {
    notes.push(info("netplan: no generated networkd files to check yet (image root); the next live run keeps the distribution's definitions off the context's NICs", '/run/systemd/network'));
  }
  return { files, commands: backend === 'ifupdown' ? stopDistroDhclient(sys, owned) : [], notes };
}

/**
 * On a running system whose own stanza already started dhclient for a NIC we now configure: ifdown
 * reads the new (our) stanza, so it would leave that client running, renewing its lease and adding its
 * address back. `-x` stops it and its script deletes only the address it added. Only where ifupdown's
 * pid file for that NIC exists; at boot networking.service has not run, so nothing runs.
 */
function stopDistroDhclient(sys: SystemView, nics: readonly ResolvedNic[]): PlannedCommand[] {
  return nics
    .filter((n) => sys.exists(`/run/dhclient.${n.name}.pid`) && ifupdownDefines(sys, n.name))
    .map((n) =>
      liveVia(IFUPDOWN_UNIT, ['dhclient', '-x', '-pf', `/run/dhclient.${n.name}.pid`, n.name], `stop the DHCP client the distribution's stanza started on ${n.name}`),
    );
}

/**
 * Whether the distribution's own configuration (as restored) already brings `nic` up under `backend`:
 * then the DHCP fallback needs no file of ours for it (two DHCP definitions would run two clients).
 */
export function distroConfigures(sys: SystemView, backend: BackendName, nic: ResolvedNic): boolean {
  switch (backend) {
    case 'ifupdown':
      return ifupdownDefines(sys, nic.name);
    case 'networkd':
      return networkdMatches(sys, nic, (n) => n.startsWith('10-contextualization-'));
    case 'netplan':
      return networkdMatches(sys, nic, (n) => n === netplanName(nic) || n.startsWith('10-contextualization-'));
    case 'networkmanager':
      return readAll(sys, '/etc/NetworkManager/system-connections').some(([n, t]) => !n.startsWith('contextualization-') && boundNic(t, [nic]));
    case 'ifcfg':
      return readAll(sys, '/etc/sysconfig/network-scripts').some(
        ([n, t]) => n.startsWith('ifcfg-') && n !== 'ifcfg-lo' && !t.includes(MARKER) && ifcfgNic(n, t, [nic]) !== undefined,
      );
    default:
      return false;
  }
}

function readAll(sys: SystemView, dir: string): [string, string][] {
  return sys.listDir(dir).flatMap((n) => {
    const t = sys.readFile(`${dir}/${n}`);
    return t === undefined ? [] : [[n, restoreOriginal(t)] as [string, string]];
  });
}

/**
 * NetworkManager:
 *  - its runtime auto-default "Wired connection N" (created for a device no profile is bound to yet, e.g.
 *    when NM starts before our profile exists): a conf.d drop-in `no-auto-default+=mac:<NIC>`. `+=`
 *    appends to the distribution's own list (say `no-auto-default=*`) instead of replacing it, and a MAC
 *    spec touches no other device. Ours alone: deleting it undoes it.
 *  - saved profiles bound to the device (`interface-name=` or `mac-address=`) in
 *    /etc/NetworkManager/system-connections: `autoconnect=false` set in place (the old line disabled),
 *    so NM never picks them over ours; the profile stays available for a manual `nmcli connection up`.
 *  - on RHEL-family images NM also reads ifcfg files (ifcfg-rh plugin): those bound to the NIC get
 *    ONBOOT=no (distro/ifcfg.ts).
 */
import { NM_CONF_PATH } from '../renderers/networkmanager.js';
import type { PlannedFile } from '../../types/plan.js';
import type { ResolvedNic, SystemView } from '../../types/network.js';
import { ADDED, DISABLED, NOTE, editOf, ownFile, restoreOriginal } from './marks.js';

const CONNECTIONS = '/etc/NetworkManager/system-connections';
const OUR_PREFIX = 'contextualization-';

interface KeyLine {
  section: string;
  key: string;
  value: string;
  index: number;
}

function keyLines(lines: string[]): KeyLine[] {
  const out: KeyLine[] = [];
  let section = '';
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line.startsWith('[') && line.endsWith(']')) section = line.slice(1, -1);
    else if (!line.startsWith('#') && line.includes('=')) {
      const eq = line.indexOf('=');
      out.push({ section, key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim(), index });
    }
  });
  return out;
}

/** The NIC a keyfile is bound to, if it is one of `nics`. */
export function boundNic(content: string, nics: readonly ResolvedNic[]): ResolvedNic | undefined {
  const keys = keyLines(content.split('\n'));
  const get = (sections: string[], key: string): string | undefined => keys.find((k) => sections.includes(k.section) && k.key === key)?.value;
  const type = get(['connection'], 'type');
  if (type !== undefined && type !== 'ethernet' && type !== '802-3-ethernet') return undefined;
  const ifname = get(['connection'], 'interface-name');
  const mac = get(['ethernet', '802-3-ethernet'], 'mac-address')?.toLowerCase();
  return nics.find((n) => n.name === ifname || n.mac === mac);
}

/** `original` with autoconnect=false in [connection] (the old autoconnect line disabled). */
function noAutoconnect(original: string, nic: string): string {
  const lines = original.split('\n');
  const keys = keyLines(lines);
  const auto = keys.find((k) => k.section === 'connection' && k.key === 'autoconnect');
  if (auto?.value === 'false') return original;
  const header = lines.findIndex((l) => l.trim() === '[connection]');
  if (header < 0) return original; // not a profile NM would load
  const out = [...lines];
  if (auto) out[auto.index] = DISABLED + out[auto.index]!;
  out.splice(header + 1, 0, `${NOTE}bound to ${nic}, which the context configures: not started automatically`, ADDED, 'autoconnect=false');
  return out.join('\n');
}

export function networkManagerEdits(sys: SystemView, nics: readonly ResolvedNic[]): PlannedFile[] {
  const out: PlannedFile[] = [];
  if (nics.length > 0) {
    const specs = nics.map((n) => `mac:${n.mac}`).join(',');
    const why = `no automatic "Wired connection" for ${nics.map((n) => n.name).join(', ')}: the context configures ${nics.length > 1 ? 'them' : 'it'}`;
    out.push({ path: NM_CONF_PATH, content: ownFile(why, ['[main]', `no-auto-default+=${specs}`]), mode: 0o644, reason: why });
  }
  for (const name of sys.listDir(CONNECTIONS)) {
    if (name.startsWith(OUR_PREFIX) || name.startsWith('.')) continue;
    const path = `${CONNECTIONS}/${name}`;
    const current = sys.readFile(path);
    if (current === undefined) continue;
    const original = restoreOriginal(current);
    const nic = boundNic(original, nics);
    const wanted = nic ? noAutoconnect(original, nic.name) : original;
    // 0600: NM ignores keyfiles others can read.
    const edit = editOf(path, current, wanted, 0o600, nic && wanted !== original ? [nic.name] : [], 'autoconnect of this NetworkManager profile');
    if (edit) out.push(edit);
  }
  return out;
}

/**
 * RHEL-family ifcfg files (network-scripts, and NetworkManager's ifcfg-rh plugin):
 *  - a file of the distribution bound to the NIC (DEVICE=, HWADDR=, or its name) under another name
 *    than ours gets ONBOOT=no in place (the old ONBOOT line disabled): neither network-scripts nor NM
 *    start it at boot, and it stays usable by hand.
 *  - with the ifcfg backend, a distribution file with the very name we write (ifcfg-eth0, route-eth0:
 *    cloud images ship ifcfg-eth0) is taken over: our content on top, its original below, disabled.
 *    A route file of the NIC we do not write is disabled whole. Both are restored from the file itself.
 */
import { MARKER } from '../renderers/common.js';
import { ifcfgPaths } from '../renderers/ifcfg.js';
import type { PlannedFile } from '../../types/plan.js';
import type { ResolvedNic, SystemView } from '../../types/network.js';
import { ADDED, DISABLED, NOTE, disableAll, editOf, restoreOriginal, takeOver } from './marks.js';

const DIR = '/etc/sysconfig/network-scripts';

function assignments(text: string): Map<string, { value: string; index: number }> {
  const out = new Map<string, { value: string; index: number }>();
  text.split('\n').forEach((raw, index) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(raw);
    if (m) out.set(m[1]!, { value: m[2]!.trim().replace(/^(["'])(.*)\1$/, '$2'), index });
  });
  return out;
}

const isOurs = (text: string): boolean => text.split('\n').some((l) => l.startsWith(MARKER));

/** The NIC an ifcfg file configures, if it is one of `nics`. */
export function ifcfgNic(fileName: string, text: string, nics: readonly ResolvedNic[]): ResolvedNic | undefined {
  const a = assignments(text);
  const device = a.get('DEVICE')?.value;
  const hwaddr = a.get('HWADDR')?.value.toLowerCase();
  const suffix = fileName.slice('ifcfg-'.length);
  return nics.find((n) => (device !== undefined ? device === n.name : suffix === n.name) || (hwaddr !== undefined && hwaddr === n.mac));
}

function onbootNo(original: string, nic: string): string {
  const lines = original.split('\n');
  const onboot = assignments(original).get('ONBOOT');
  if (onboot && /^no$/i.test(onboot.value)) return original;
  if (onboot) lines[onboot.index] = DISABLED + lines[onboot.index]!;
  // Before a final empty line, so the file keeps ending with a newline.
  const at = lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  lines.splice(at, 0, `${NOTE}${nic} is configured by the context: not started at boot`, ADDED, 'ONBOOT=no');
  return lines.join('\n');
}

/**
 * Edits of the distribution's ifcfg files. `rendered`: our own files (ifcfg backend) that a same-named
 * distribution file must give way to; [] when another backend (NetworkManager) is in charge.
 */
export function ifcfgEdits(sys: SystemView, nics: readonly ResolvedNic[], rendered: readonly PlannedFile[]): PlannedFile[] {
  const ours = new Map(rendered.map((f) => [f.path, f]));
  const takeOverNames = rendered.length > 0;
  const routeFiles = new Set(takeOverNames ? nics.flatMap((n) => [ifcfgPaths(n.name).route, ifcfgPaths(n.name).route6]) : []);
  const out: PlannedFile[] = [];
  for (const name of sys.listDir(DIR)) {
    if (!/^(ifcfg|route6?)-/.test(name) || name === 'ifcfg-lo') continue;
    const path = `${DIR}/${name}`;
    const current = sys.readFile(path);
    if (current === undefined) continue;
    const original = restoreOriginal(current);
    if (isOurs(original)) continue; // our own plain file: the renderer rewrites or removes it
    const mine = ours.get(path);
    let wanted = original;
    let nic: string | undefined;
    if (mine) {
      wanted = takeOver(mine.content, original);
      nic = nics.find((n) => Object.values(ifcfgPaths(n.name)).includes(path))?.name;
    } else if (routeFiles.has(path)) {
      nic = nics.find((n) => Object.values(ifcfgPaths(n.name)).includes(path))!.name;
      wanted = disableAll(original, `routes of ${nic}, which the context configures (its own routes are in its ifcfg files)`);
    } else if (name.startsWith('ifcfg-')) {
      const bound = ifcfgNic(name, original, nics);
      if (bound) {
        nic = bound.name;
        wanted = onbootNo(original, bound.name);
      }
    }
    if (mine) {
      // Always planned, changed or not: it replaces the renderer's plain file of the same path.
      out.push({ ...mine, content: wanted, reason: `${mine.reason}; the distribution's own ${name} kept below it, disabled (restored when the context no longer configures ${nic})` });
      continue;
    }
    const edit = editOf(path, current, wanted, 0o644, nic && wanted !== original ? [nic] : [], "the distribution's ifcfg file");
    if (edit) out.push(edit);
  }
  return out;
}

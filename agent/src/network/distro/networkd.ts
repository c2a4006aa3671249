/**
 * systemd-networkd (and netplan, which generates networkd files): networkd applies to a link only the
 * first .network file, in file-name order over /etc, /run, /usr/local/lib, /usr/lib and /lib
 * (a name in /etc hides the same name further down), that matches it. A distribution file sorting
 * before ours that may match our NIC (a catch-all `Name=en* eth*`, `Type=ether`, our MAC) would win.
 *
 * Least invasive fix: a drop-in `<that file>.network.d/99-contextualization.conf` in /etc with
 * `[Match] Name=!<our NICs>`. networkd merges drop-in [Match] lists into the file's own, and an inverted
 * name excludes just those links, so the file keeps matching every other NIC exactly as before. The
 * distribution's file is not edited; deleting the drop-in undoes it (it is ours: stale ones are removed).
 * Inverted entries mixed with plain ones need systemd >= 249 (Debian 12, Ubuntu 22.04, RHEL 9).
 *
 * Name= is tested against the kernel name and every alternative name (networkd passes a link when any
 * of its names passes), and udev gives each NIC alternative names (99-default.link: ens3 and enp0s3
 * beside eth0). So the drop-in names them all, as far as udev's database shows them, and also excludes
 * the NIC by the MAC-derived udev property, which networkd tests once udev has initialised the link,
 * whatever names it got (issue 11: `Name=!eth0` alone let `Name=en* eth*` match the altname ens3).
 */
import { HEADER } from '../renderers/common.js';
import { NETWORKD_DROPIN } from '../renderers/networkd.js';
import type { PlannedFile } from '../../types/plan.js';
import type { ResolvedNic, SystemView } from '../../types/network.js';
import { globMatch } from './marks.js';

/** The udev properties that 99-default.link's AlternativeNamesPolicy (database onboard slot path) makes alternative names. */
const ALTNAME_PROPERTIES = new Set(['ID_NET_NAME_FROM_DATABASE', 'ID_NET_NAME_ONBOARD', 'ID_NET_NAME_SLOT', 'ID_NET_NAME_PATH']);

/**
 * The names networkd tests Name= against: the kernel name and the alternative names udev derives for
 * the link (read from its database, /run/udev/data/n<ifindex>; nothing more when it is absent, as in an
 * image root: the first boot's local stage plans again).
 */
export function linkNames(sys: SystemView, nic: ResolvedNic): string[] {
  const names = [nic.name];
  const ifindex = sys.readFile(`/sys/class/net/${nic.name}/ifindex`)?.trim();
  if (!ifindex || !/^\d+$/.test(ifindex)) return names;
  for (const m of (sys.readFile(`/run/udev/data/n${ifindex}`) ?? '').matchAll(/^E:(\w+)=(\S+)$/gm)) {
    if (ALTNAME_PROPERTIES.has(m[1]!) && /^[\w.-]{1,15}$/.test(m[2]!) && !names.includes(m[2]!)) names.push(m[2]!);
  }
  return names;
}

/** udev's net_id property for a NIC with a permanent MAC: "enx" and the MAC's hex digits. */
export function macNameProperty(nic: ResolvedNic): string {
  return `ID_NET_NAME_MAC=enx${nic.mac.toLowerCase().replace(/:/g, '')}`;
}

/** Highest priority first: the first directory holding a name is the file networkd reads. */
const DIRS = ['/etc/systemd/network', '/run/systemd/network', '/usr/local/lib/systemd/network', '/usr/lib/systemd/network', '/lib/systemd/network'];
const ETC = DIRS[0]!;

/** The [Match] keys of a .network file, merged over all [Match] sections (an empty assignment resets). */
function matchLists(content: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inMatch = false;
  for (const raw of content.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      inMatch = line === '[Match]';
      continue;
    }
    if (!inMatch) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (value === '') {
      out.set(key, []);
      continue;
    }
    const invert = value.startsWith('!');
    if (invert) value = value.slice(1);
    const words = value.split(/\s+/).map((w) => (invert ? `!${w}` : w));
    out.set(key, [...(out.get(key) ?? []), ...words]);
  }
  return out;
}

/** networkd's test of a pattern list (net_condition_test_strv): any positive match, no inverted one. */
function testList(patterns: string[], value: string | undefined, eq: (p: string, v: string) => boolean): boolean {
  if (patterns.length === 0) return true;
  let positive = false;
  let matched = false;
  for (const raw of patterns) {
    const invert = raw.startsWith('!');
    const p = invert ? raw.slice(1) : raw;
    if (!invert) positive = true;
    if (value !== undefined && eq(p, value)) {
      if (invert) return false;
      matched = true;
    }
  }
  return positive ? matched : true;
}

/**
 * Whether a .network file may match this NIC. Keys we can decide (names, MACs, type, kind) are checked;
 * any other condition (Driver=, Path=, Host=, Virtualization=...) is assumed to hold: the drop-in is
 * harmless where the file would not have matched anyway.
 */
export function mayMatch(content: string, nic: ResolvedNic, names: readonly string[] = [nic.name]): boolean {
  const m = matchLists(content);
  const mac = (p: string, v: string): boolean => p.toLowerCase() === v;
  const nameList = m.get('Name') ?? [];
  return (
    names.some((n) => testList(nameList, n, globMatch)) &&
    testList(m.get('OriginalName') ?? [], nic.name, globMatch) &&
    testList(m.get('MACAddress') ?? [], nic.mac, mac) &&
    testList(m.get('PermanentMACAddress') ?? [], nic.mac, mac) &&
    testList(m.get('Type') ?? [], 'ether', globMatch) &&
    testList(m.get('Kind') ?? [], undefined, globMatch) // a physical NIC has no netdev kind
  );
}

/** The .network files networkd would read (name -> in-root path), without ours. */
function effectiveFiles(sys: SystemView, isOurs: (name: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of DIRS) {
    for (const name of sys.listDir(dir)) {
      if (!name.endsWith('.network') || out.has(name)) continue;
      out.set(name, `${dir}/${name}`); // set even when ours: an /etc name hides the same name below
    }
  }
  for (const name of [...out.keys()]) if (isOurs(name)) out.delete(name);
  return out;
}

export function dropinPath(networkFile: string): string {
  return `${ETC}/${networkFile}.d/${NETWORKD_DROPIN}`;
}

/**
 * Drop-ins keeping every distribution .network file that sorts before our file for a NIC, and may
 * match it, off that NIC. `ourName(nic)` is the file name our config ends up in for that NIC.
 */
export function networkdDropins(sys: SystemView, nics: readonly ResolvedNic[], ourName: (nic: ResolvedNic) => string): PlannedFile[] {
  const ours = new Set(nics.map(ourName));
  const out: PlannedFile[] = [];
  for (const [name, path] of effectiveFiles(sys, (n) => ours.has(n) || n.startsWith('10-contextualization-'))) {
    const content = sys.readFile(path);
    if (!content?.trim()) continue; // empty or a /dev/null link: masked, networkd skips it
    const hitNics = nics.filter((nic) => name < ourName(nic) && mayMatch(content, nic, linkNames(sys, nic)));
    if (hitNics.length === 0) continue;
    const hit = hitNics.map((n) => n.name);
    const body = [
      HEADER,
      `# ${hit.join(', ')} ${hit.length > 1 ? 'are' : 'is'} configured by the context; ${path} sorts first and would match, so it must not.`,
      '# Every name of the NIC (alternative names too: Name= tests them all), and its MAC-derived udev property.',
      '[Match]',
      `Name=!${hitNics.flatMap((n) => linkNames(sys, n)).join(' ')}`,
      ...hitNics.map((n) => `Property=!${macNameProperty(n)}`),
    ];
    out.push({
      path: dropinPath(name),
      content: `${body.join('\n')}\n`,
      mode: 0o644,
      reason: `keep ${path} (it would match first) off ${hit.join(', ')}`,
    });
  }
  return out;
}

/** Whether a distribution .network file (drop-ins of ours aside) would configure `nic`. */
export function networkdMatches(sys: SystemView, nic: ResolvedNic, isOurs: (name: string) => boolean): boolean {
  for (const path of effectiveFiles(sys, isOurs).values()) {
    const content = sys.readFile(path);
    if (content?.trim() && mayMatch(content, nic, linkNames(sys, nic))) return true;
  }
  return false;
}

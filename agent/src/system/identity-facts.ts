/**
 * Facts about a machine's identity and root disk, read through a small read-only view of a root
 * ("/" on the running system, an image mount with --root). Everything here only reads; the planners
 * (steps/identity.ts, steps/grow-root.ts) decide what to change. See docs/clone-identity.md.
 */
import { basename } from 'node:path';
import { iniItems, type IniDialect } from '../../../lib/ini/index.js';
import { IDENTITY_KEYS, type IdentityKey } from '../../../lib/context/model.js';
import { describePublicLine } from '../../../lib/ssh/openssh-key.js';
import type { RootFs } from '../../../lib/fs/index.js';

/** Read-only view of a root; every path is absolute inside it. Symlinks resolve inside the root. */
export interface RootView {
  /** UTF-8 content of a regular file, undefined when absent, unreadable or a directory. */
  readFile(path: string): string | undefined;
  /** Entry names of a directory, sorted; undefined when it is not one. */
  listDir(path: string): string[] | undefined;
  exists(path: string): boolean;
  /** Target of the symlink at `path` itself (not followed); undefined when it is not a symlink. */
  readLink(path: string): string | undefined;
}

/**
 * The view over a RootFs: symlinks are followed inside the root, and only regular files are read (a FIFO
 * or a device planted at /etc/machine-id is "not there", never a hang).
 */
export function rootView(fs: RootFs): RootView {
  const resolved = (path: string): string | undefined => {
    try { return fs.resolve(path); } catch { return undefined; } // a loop, a bad path: not there for us
  };
  const quiet = <T>(f: () => T): T | undefined => { try { return f(); } catch { return undefined; } };
  return {
    readFile: (path) => {
      const r = resolved(path);
      return r === undefined ? undefined : quiet(() => fs.readFileIfRegular(r, { maxBytes: 16 * 1024 * 1024 })?.toString('utf8'));
    },
    listDir: (path) => {
      const r = resolved(path);
      return r === undefined ? undefined : quiet(() => fs.listDir(r));
    },
    exists: (path) => resolved(path) !== undefined,
    readLink: (path) => quiet(() => fs.readlink(path)),
  };
}

// ---------------------------------------------------------------- /proc/self/mountinfo

export interface MountEntry {
  /** "major:minor" of st_dev (0:N for btrfs subvolumes and virtual filesystems). */
  devno: string;
  mountPoint: string;
  fstype: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    // id parent maj:min root mountpoint options [optional fields...] - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    if (l.length < 6 || r.length < 2) continue;
    out.push({ devno: l[2]!, mountPoint: unescapeMount(l[4]!), fstype: r[0]!, source: unescapeMount(r[1]!) });
  }
  return out;
}

/** The mount visible at `mountPoint` (the last one mounted there wins, as in the kernel). */
function mountAt(view: RootView, mountPoint: string): MountEntry | undefined {
  return parseMountinfo(view.readFile('/proc/self/mountinfo') ?? '').filter((m) => m.mountPoint === mountPoint).at(-1);
}

// ---------------------------------------------------------------- identity

export type MachineIdState =
  | { kind: 'valid'; id: string }
  | { kind: 'empty' }
  | { kind: 'uninitialized' }
  | { kind: 'absent' }
  | { kind: 'invalid'; content: string };

export type DbusMachineId = { kind: 'absent' } | { kind: 'symlink'; target: string } | { kind: 'file'; content: string };

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa' | 'dsa';

/** One standard host key name (/etc/ssh/ssh_host_<type>_key) and what of it exists. */
export interface HostKeyFact {
  type: HostKeyType;
  privatePath?: string;
  publicPath?: string;
  certificatePath?: string;
  /** From the .pub line: e.g. ecdsa-sha2-nistp384. */
  algorithm?: string;
  rsaBits?: number;
}

export interface SshFacts {
  /** openssh-server is installed (/usr/sbin/sshd). */
  server: boolean;
  keys: HostKeyFact[];
  /** Other /etc/ssh/ssh_host_* files (the SSH-1 ssh_host_key, odd names): left alone. */
  others: string[];
  /** HostKey lines of sshd_config(.d) naming a file other than a standard one: left alone. */
  customHostKeys: string[];
}

export type DhcpClient = 'dhclient' | 'dhcpcd' | 'NetworkManager';

/** A DHCP client's memory of being this machine: a lease, a DUID, or the secret its stable ids hash. */
export interface DhcpIdentityFile {
  path: string;
  client: DhcpClient;
  what: 'lease' | 'duid' | 'secret';
}

export interface IdentityFacts {
  machineId: MachineIdState;
  /**
   * systemd PID 1 has mounted a transient id over /etc/machine-id: the image shipped it empty,
   * "uninitialized" or absent, and systemd already gave this boot a fresh id (committed to disk later).
   */
  machineIdTransient: boolean;
  dbusMachineId: DbusMachineId;
  /** /etc/hostname's name, for the new host keys' comment. */
  hostname?: string;
  ssh: SshFacts;
  dhcp: DhcpIdentityFile[];
  /** systemd-networkd is installed: its DHCP DUID is derived from /etc/machine-id (nothing on disk). */
  networkd: boolean;
  /** Entries of /var/lib/systemd/network/ (networkd's persistent state; none is a client identity today). */
  networkdState: string[];
  /** Random seed files present: systemd's and sysvinit's (initscripts' urandom). */
  randomSeeds: string[];
}

export const MACHINE_ID = '/etc/machine-id';
export const DBUS_MACHINE_ID = '/var/lib/dbus/machine-id';
export const RANDOM_SEEDS = ['/var/lib/systemd/random-seed', '/var/lib/urandom/random-seed'];
const SSH_DIR = '/etc/ssh';
const HOST_KEY_NAME = /^ssh_host_(ed25519|ecdsa|rsa|dsa)_key(\.pub|-cert\.pub)?$/;
export const KEY_ORDER: readonly HostKeyType[] = ['ed25519', 'ecdsa', 'rsa', 'dsa'];

export function machineIdState(content: string | undefined): MachineIdState {
  if (content === undefined) return { kind: 'absent' };
  const t = content.trim();
  if (t === '') return { kind: 'empty' };
  if (t === 'uninitialized') return { kind: 'uninitialized' };
  if (/^[0-9a-f]{32}$/.test(t) && !/^0+$/.test(t)) return { kind: 'valid', id: t };
  return { kind: 'invalid', content: t.slice(0, 64) };
}

function sshFacts(view: RootView): SshFacts {
  const byType = new Map<HostKeyType, HostKeyFact>();
  const others: string[] = [];
  for (const name of view.listDir(SSH_DIR) ?? []) {
    if (!name.startsWith('ssh_host_')) continue;
    const path = `${SSH_DIR}/${name}`;
    const m = HOST_KEY_NAME.exec(name);
    if (!m) {
      others.push(path);
      continue;
    }
    const type = m[1] as HostKeyType;
    const fact = byType.get(type) ?? { type };
    byType.set(type, fact);
    if (m[2] === '.pub') {
      fact.publicPath = path;
      const d = describePublicLine(view.readFile(path) ?? '');
      if (d) {
        fact.algorithm = d.algorithm;
        if (d.rsaBits) fact.rsaBits = d.rsaBits;
      }
    } else if (m[2] === '-cert.pub') fact.certificatePath = path;
    else fact.privatePath = path;
  }
  const configs = [`${SSH_DIR}/sshd_config`, ...(view.listDir(`${SSH_DIR}/sshd_config.d`) ?? []).filter((n) => n.endsWith('.conf')).map((n) => `${SSH_DIR}/sshd_config.d/${n}`)];
  const customHostKeys: string[] = [];
  for (const c of configs) {
    for (const line of (view.readFile(c) ?? '').split('\n')) {
      const hk = /^\s*HostKey\s+(\S+)/i.exec(line);
      if (hk && !/^\/etc\/ssh\/ssh_host_(ed25519|ecdsa|rsa|dsa)_key$/.test(hk[1]!)) customHostKeys.push(`${c}: HostKey ${hk[1]}`);
    }
  }
  return {
    server: view.exists('/usr/sbin/sshd'),
    keys: KEY_ORDER.flatMap((t) => byType.get(t) ?? []),
    others,
    customHostKeys,
  };
}

function dhcpFacts(view: RootView): DhcpIdentityFile[] {
  const out: DhcpIdentityFile[] = [];
  const scan = (dir: string, client: DhcpClient, classify: (name: string) => DhcpIdentityFile['what'] | undefined) => {
    for (const name of view.listDir(dir) ?? []) {
      const what = classify(name);
      if (what && view.readLink(`${dir}/${name}`) === undefined && view.listDir(`${dir}/${name}`) === undefined) out.push({ path: `${dir}/${name}`, client, what });
    }
  };
  // ISC dhclient (ifupdown): dhclient[6][.IFACE].leases; v6 ones also hold `default-duid`.
  // dhcpd*.leases beside them is a DHCP *server's* database and never matches.
  scan('/var/lib/dhcp', 'dhclient', (n) => /^dhclient.*\.leases?$/.test(n) ? (view.readFile(`/var/lib/dhcp/${n}`) ?? '').includes('default-duid') ? 'duid' : 'lease' : undefined);
  // dhcpcd: its DUID, the secret behind its stable private addresses, and leases.
  for (const dir of ['/var/lib/dhcpcd', '/var/lib/dhcpcd5']) {
    scan(dir, 'dhcpcd', (n) => n === 'duid' ? 'duid' : n === 'secret' ? 'secret' : /\.lease6?$/.test(n) ? 'lease' : undefined);
  }
  // NetworkManager: internal-/dhclient[6]- leases, DUIDs, and secret_key (hashed into stable-privacy
  // IPv6 addresses and stable client ids: clones sharing it share those too).
  scan('/var/lib/NetworkManager', 'NetworkManager', (n) => n === 'secret_key' ? 'secret' : /duid/i.test(n) ? 'duid' : /\.lease$/.test(n) ? 'lease' : undefined);
  return out;
}

export function gatherIdentityFacts(view: RootView): IdentityFacts {
  const link = view.readLink(DBUS_MACHINE_ID);
  const dbusContent = link === undefined ? view.readFile(DBUS_MACHINE_ID) : undefined;
  const hostname = (view.readFile('/etc/hostname') ?? '').split('\n')[0]!.trim();
  const facts: IdentityFacts = {
    machineId: machineIdState(view.readFile(MACHINE_ID)),
    machineIdTransient: mountAt(view, MACHINE_ID) !== undefined,
    dbusMachineId: link !== undefined ? { kind: 'symlink', target: link } : dbusContent !== undefined ? { kind: 'file', content: dbusContent } : { kind: 'absent' },
    ssh: sshFacts(view),
    dhcp: dhcpFacts(view),
    networkd: view.exists('/lib/systemd/systemd-networkd') || view.exists('/usr/lib/systemd/systemd-networkd'),
    networkdState: (view.listDir('/var/lib/systemd/network') ?? []).map((n) => `/var/lib/systemd/network/${n}`),
    randomSeeds: RANDOM_SEEDS.filter((p) => view.readFile(p) !== undefined),
  };
  if (/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(hostname)) facts.hostname = hostname;
  return facts;
}

// ---------------------------------------------------------------- opt-outs

export const IDENTITY_CONF = '/etc/contextualization/identity.conf';

/** Items opted out, each with who said so (for the log line that says why it was kept). */
export type IdentityOptOuts = Partial<Record<IdentityKey, string>>;

/**
 * The image's opt-outs: identity.conf's `[identity]` section, `key = yes|no`, as in context.ini.
 * A file with any problem keeps every item (doing nothing is recoverable, a wrong reset is not);
 * each problem comes back as one line.
 */
export function readIdentityConf(view: RootView): { optOuts: IdentityOptOuts; problems: string[] } {
  const text = view.readFile(IDENTITY_CONF);
  if (text === undefined) return { optOuts: {}, problems: [] };
  const problems: string[] = [];
  const optOuts: IdentityOptOuts = {};
  const known = `[identity] with ${IDENTITY_KEYS.join(', ')}`;
  const lines = text.split('\n').map((t, i) => ({ n: i + 1, text: t.endsWith('\r') ? t.slice(0, -1) : t }));
  let section: string | undefined;
  const seen = new Map<string, number>();
  for (const item of iniItems(lines, IDENTITY_CONF_INI)) {
    const at = `${IDENTITY_CONF} line ${item.n}`;
    if (item.kind === 'section') {
      section = item.name;
      if (section !== 'identity') problems.push(`${at}: [${section}]: unknown section (known: ${known})`);
      continue;
    }
    if (item.kind === 'other') {
      problems.push(`${at}: ${JSON.stringify(item.raw.trim())}: not a [section] or key = value line`);
      continue;
    }
    if (section === undefined) {
      problems.push(`${at}: ${item.key}: key outside [identity] (known: ${known})`);
      continue;
    }
    if (section !== 'identity') continue; // the section is reported once
    const key = item.key;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(`${at}: [identity] ${key}: repeated (first on line ${first})`);
      continue;
    }
    seen.set(key, item.n);
    if (!(IDENTITY_KEYS as readonly string[]).includes(key)) problems.push(`${at}: [identity] ${key}: unknown key (known: ${IDENTITY_KEYS.join(', ')})`);
    else if (item.value !== 'yes' && item.value !== 'no') problems.push(`${at}: [identity] ${key} = ${JSON.stringify(item.value ?? item.rawValue)}: must be yes or no`);
    else if (item.value === 'no') optOuts[key as IdentityKey] = `${key} = no in ${IDENTITY_CONF}`;
  }
  if (problems.length) {
    for (const k of IDENTITY_KEYS) optOuts[k] = `${IDENTITY_CONF} is invalid (nothing renewed until it is fixed)`;
  }
  return { optOuts, problems };
}

/** identity.conf reads as context.ini does (lib/ini): whole-line comments, optional quotes. */
const IDENTITY_CONF_INI: IniDialect = { inlineComments: false, quotes: `"'`, sectionName: /^.*$/s };

/** Both places can only opt out: an item is renewed when neither the image nor the context says no. */
export function mergeOptOuts(image: IdentityOptOuts, context: Partial<Record<IdentityKey, false>> | undefined): IdentityOptOuts {
  const out: IdentityOptOuts = { ...image };
  for (const k of IDENTITY_KEYS) if (context?.[k] === false) out[k] ??= `${k} = no in common/context.ini`;
  return out;
}

// ---------------------------------------------------------------- root disk

/** A block device from /sys/class/block; sizes and starts in 512-byte sectors (the sysfs unit). */
export interface BlockDev {
  name: string;
  size: number;
  /** Present when the device is a partition. */
  partition?: { number: number; start: number };
  /** device-mapper uuid (LVM-..., CRYPT-...) when the device is dm-*. */
  dmUuid?: string;
  /** An md RAID array. */
  md: boolean;
}

export interface GrowRootFacts {
  mountPoint: string;
  mount?: MountEntry;
  /** The filesystem's device. */
  device?: BlockDev;
  /** Its disk, when the device is a partition. */
  disk?: BlockDev;
  /** The disk's other partitions. */
  siblings: BlockDev[];
  /** Absolute paths of the tools found in the root. */
  tools: { growpart?: string; resize2fs?: string; xfsGrowfs?: string; btrfs?: string };
}

const SYS_BLOCK = '/sys/class/block';

function blockDev(view: RootView, name: string): BlockDev | undefined {
  const dir = `${SYS_BLOCK}/${name}`;
  const size = Number(view.readFile(`${dir}/size`)?.trim());
  if (!Number.isSafeInteger(size)) return undefined;
  const dev: BlockDev = { name, size, md: view.exists(`${dir}/md`) };
  const number = Number(view.readFile(`${dir}/partition`)?.trim());
  const start = Number(view.readFile(`${dir}/start`)?.trim());
  if (Number.isSafeInteger(number) && number > 0 && Number.isSafeInteger(start)) dev.partition = { number, start };
  const uuid = view.readFile(`${dir}/dm/uuid`)?.trim();
  if (uuid) dev.dmUuid = uuid;
  return dev;
}

function firstTool(view: RootView, paths: string[]): string | undefined {
  return paths.find((p) => view.exists(p));
}

/** Facts about the filesystem mounted at `mountPoint` ("/" at boot) and the disk under it. */
export function gatherGrowRootFacts(view: RootView, mountPoint = '/'): GrowRootFacts {
  const facts: GrowRootFacts = {
    mountPoint,
    siblings: [],
    tools: {},
  };
  const tools = {
    growpart: firstTool(view, ['/usr/bin/growpart', '/usr/sbin/growpart']),
    resize2fs: firstTool(view, ['/usr/sbin/resize2fs', '/sbin/resize2fs']),
    xfsGrowfs: firstTool(view, ['/usr/sbin/xfs_growfs', '/sbin/xfs_growfs']),
    btrfs: firstTool(view, ['/usr/bin/btrfs', '/bin/btrfs', '/usr/sbin/btrfs', '/sbin/btrfs']),
  };
  for (const [k, v] of Object.entries(tools)) if (v) facts.tools[k as keyof typeof tools] = v;
  const mount = mountAt(view, mountPoint);
  if (!mount) return facts;
  facts.mount = mount;
  const names = view.listDir(SYS_BLOCK) ?? [];
  // st_dev names the device, except on btrfs (an anonymous 0:N): then the mount source does.
  let name = mount.devno.startsWith('0:') ? undefined : names.find((n) => view.readFile(`${SYS_BLOCK}/${n}/dev`)?.trim() === mount.devno);
  if (!name && mount.source.startsWith('/dev/') && names.includes(basename(mount.source))) name = basename(mount.source);
  const device = name ? blockDev(view, name) : undefined;
  if (!device) return facts;
  facts.device = device;
  if (device.partition) {
    const diskName = names.find((n) => n !== device.name && !view.exists(`${SYS_BLOCK}/${n}/partition`) && view.exists(`${SYS_BLOCK}/${n}/${device.name}`));
    const disk = diskName ? blockDev(view, diskName) : undefined;
    if (disk) {
      facts.disk = disk;
      facts.siblings = (view.listDir(`${SYS_BLOCK}/${disk.name}`) ?? [])
        .filter((n) => n !== device.name && view.exists(`${SYS_BLOCK}/${disk.name}/${n}/partition`))
        .flatMap((n) => blockDev(view, n) ?? []);
    }
  }
  return facts;
}

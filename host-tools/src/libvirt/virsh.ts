/**
 * The one place contextgen talks to libvirt: `virsh -c URI ...` through execa with argument arrays
 * (never a shell). Remote hosts are libvirt's business (qemu+ssh://, qemu+tls://): contextgen only
 * passes the URI. Every failure is an ExternalError naming the URI and the subcommand.
 */
import { execa } from 'execa';
import { ExternalError } from '../errors.js';
import { toolMessage } from '../overlay.js';

export async function virsh(uri: string, args: string[], what = args[0]): Promise<string> {
  try {
    const { stdout } = await execa('virsh', ['-q', '-c', uri, ...args]);
    return stdout;
  } catch (e) {
    throw new ExternalError(`virsh -c ${uri} ${what}: ${toolMessage(e)}`);
  }
}

const NOT_FOUND = /failed to get domain|Domain not found|Storage volume not found|no storage vol with matching|Storage pool not found|no storage pool with matching/i;

/** Runs virsh; undefined when libvirt says the object does not exist (any other failure throws). */
async function virshMaybe(uri: string, args: string[], what: string): Promise<string | undefined> {
  try {
    const { stdout } = await execa('virsh', ['-q', '-c', uri, ...args]);
    return stdout;
  } catch (e) {
    const msg = toolMessage(e);
    if (NOT_FOUND.test(msg)) return undefined;
    throw new ExternalError(`virsh -c ${uri} ${what}: ${msg}`);
  }
}

// --- Domains

/**
 * libvirt's state of domain `name` at `uri` ("running", "shut off", ...), or undefined when libvirt
 * has no such domain. Failing to reach libvirt is an ExternalError: never guess "not running".
 */
export async function domainState(uri: string, name: string): Promise<string | undefined> {
  return (await virshMaybe(uri, ['domstate', '--domain', name], `domstate ${name}`))?.trim();
}

export async function defineDomain(uri: string, file: string): Promise<void> {
  await virsh(uri, ['define', '--file', file], `define ${file}`);
}

export async function startDomain(uri: string, name: string): Promise<void> {
  await virsh(uri, ['start', '--domain', name], `start ${name}`);
}

export async function destroyDomain(uri: string, name: string): Promise<void> {
  await virsh(uri, ['destroy', '--domain', name], `destroy ${name}`);
}

export async function undefineDomain(uri: string, name: string): Promise<void> {
  await virsh(uri, ['undefine', '--domain', name], `undefine ${name}`);
}

export async function domainNames(uri: string): Promise<string[]> {
  return (await virsh(uri, ['list', '--all', '--name'])).split('\n').map((s) => s.trim()).filter(Boolean);
}

export async function domainXml(uri: string, name: string): Promise<string> {
  return virsh(uri, ['dumpxml', '--domain', name], `dumpxml ${name}`);
}

// --- Storage pools and volumes

export interface PoolInfo {
  state: string;
  /** Free bytes libvirt reports for the pool. */
  available?: number;
}

/** `virsh pool-info`: undefined when the pool does not exist at `uri`. */
export async function poolInfo(uri: string, pool: string): Promise<PoolInfo | undefined> {
  const out = await virshMaybe(uri, ['pool-info', '--pool', pool, '--bytes'], `pool-info ${pool}`);
  if (out === undefined) return undefined;
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'mi').exec(out)?.[1]?.trim();
  const avail = field('Available');
  return { state: field('State') ?? 'unknown', available: avail !== undefined && /^\d+$/.test(avail) ? Number(avail) : undefined };
}

export interface VolumeInfo {
  key: string;
  path: string;
  /** The format libvirt reads from the volume (qcow2, raw, iso...). */
  format?: string;
  capacity?: number;
}

/** A volume's key, path, format and capacity; undefined when `pool` has no volume `name`. */
export async function volumeInfo(uri: string, pool: string, name: string): Promise<VolumeInfo | undefined> {
  const xml = await virshMaybe(uri, ['vol-dumpxml', '--pool', pool, name], `vol-dumpxml ${pool}/${name}`);
  if (xml === undefined) return undefined;
  // Our own reading of libvirt's fixed volume XML shape (key, target/path, target/format, capacity).
  const key = /<key>([^<]*)<\/key>/.exec(xml)?.[1];
  const target = /<target>([\s\S]*?)<\/target>/.exec(xml)?.[1] ?? '';
  const path = /<path>([^<]*)<\/path>/.exec(target)?.[1];
  const format = /<format type=['"]([^'"]+)['"]/.exec(target)?.[1];
  const capacity = /<capacity[^>]*>(\d+)<\/capacity>/.exec(xml)?.[1];
  return { key: unescapeXml(key ?? ''), path: unescapeXml(path ?? ''), format, capacity: capacity ? Number(capacity) : undefined };
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Creates a volume from an XML file (for an overlay with a backingStore). */
export async function createVolumeFromXml(uri: string, pool: string, xmlFile: string, name: string): Promise<void> {
  await virsh(uri, ['vol-create', '--pool', pool, '--file', xmlFile], `vol-create ${pool}/${name}`);
}

export async function createVolume(uri: string, pool: string, name: string, bytes: number, format: 'raw' | 'qcow2'): Promise<void> {
  await virsh(uri, ['vol-create-as', '--pool', pool, '--name', name, '--capacity', `${bytes}b`, '--format', format], `vol-create-as ${pool}/${name}`);
}

/** Uploads a local file into a volume (libvirt streams it to the host of `uri`). */
export async function uploadVolume(uri: string, pool: string, name: string, file: string): Promise<void> {
  await virsh(uri, ['vol-upload', '--pool', pool, '--vol', name, '--file', file], `vol-upload ${pool}/${name}`);
}

export async function deleteVolume(uri: string, pool: string, name: string): Promise<void> {
  await virsh(uri, ['vol-delete', '--pool', pool, '--vol', name], `vol-delete ${pool}/${name}`);
}

/** Names of the volumes in `pool` (one call per pool, so a batch does not ask per VM). */
export async function volumeNames(uri: string, pool: string): Promise<string[]> {
  // `vol-list` prints "name path" columns; volume names of our making have no spaces.
  return (await virsh(uri, ['vol-list', '--pool', pool], `vol-list ${pool}`))
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/**
 * What already exists and must not collide with a batch: VM directories in OUTDIR (their domain
 * config and context ISO) and, with --define, the domains libvirt already knows.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from 'xmlbuilder2';
import { parseContext } from '../../../lib/context/index.js';
import { openIso, readAllFiles } from '../../../lib/iso9660/index.js';
import { normalizeMac } from '../../../lib/net/ip.js';
import { domainNames, domainXml } from '../libvirt/virsh.js';

// Kept here for the commands that import them from the batch module.
export { defineDomain, domainState } from '../libvirt/virsh.js';

export interface ExistingVm {
  name: string;
  /** Where it was found: a directory, or "libvirt <uri>". */
  source: string;
  uuid?: string;
  macs: string[];
  addresses: string[];
  /** Set when OUTDIR/<name> is not a real directory ("a symlink", "a regular file"): never written through. */
  notDir?: string;
}

export const OUTPUT_NAMES = { iso: 'context.iso', xml: 'domain.xml', xl: 'domain.cfg', overlay: 'overlay.qcow2' } as const;

type XmlObj = { [k: string]: unknown };
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** name, uuid and MACs from a libvirt domain XML (ours or `virsh dumpxml`). */
export function domainFactsFromXml(xml: string): { name?: string; uuid?: string; macs: string[] } {
  const obj = create(xml).end({ format: 'object' }) as XmlObj;
  const dom = obj.domain as XmlObj | undefined;
  if (!dom) return { macs: [] };
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : typeof v === 'object' && v && '#' in v ? String((v as XmlObj)['#']).trim() : undefined);
  const devices = dom.devices as XmlObj | undefined;
  const macs = asArray(devices?.interface as XmlObj | XmlObj[] | undefined)
    .map((i) => normalizeMac(String(((i.mac as XmlObj | undefined) ?? {})['@address'] ?? '')))
    .filter((m): m is string => !!m);
  return { name: text(dom.name), uuid: text(dom.uuid)?.toLowerCase(), macs };
}

/** uuid and MACs from our own xl config lines (`uuid = "..."`, `mac=...` inside vif). */
export function domainFactsFromXl(cfg: string): { uuid?: string; macs: string[] } {
  const uuid = /^\s*uuid\s*=\s*"([0-9a-fA-F-]{36})"/m.exec(cfg)?.[1]?.toLowerCase();
  const macs = [...cfg.matchAll(/mac=([0-9a-fA-F:]{17})/g)].map((m) => normalizeMac(m[1]!)).filter((m): m is string => !!m);
  return { uuid, macs };
}

/** Scans OUTDIR/<name>/ directories. Unreadable files become warnings: they are not the inventory's fault. */
export async function scanOutDir(outDir: string): Promise<{ vms: ExistingVm[]; warnings: string[] }> {
  const vms: ExistingVm[] = [];
  const warnings: string[] = [];
  let dirents;
  try {
    dirents = await readdir(outDir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { vms, warnings };
    throw e;
  }
  for (const d of dirents) {
    if (d.name.startsWith('.')) continue;
    if (!d.isDirectory()) {
      // A file where a VM directory would go still blocks that name.
      vms.push({ name: d.name, source: join(outDir, d.name), macs: [], addresses: [], notDir: d.isSymbolicLink() ? 'a symlink' : d.isFile() ? 'a regular file' : 'not a directory' });
      continue;
    }
    const dir = join(outDir, d.name);
    const vm: ExistingVm = { name: d.name, source: dir, macs: [], addresses: [] };
    // Only regular files are read: a FIFO or device planted at a file name would block or mislead the scan.
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const names = new Set(entries.filter((x) => x.isFile()).map((x) => x.name));
    for (const x of entries) if (!x.isFile() && Object.values(OUTPUT_NAMES).includes(x.name as never)) warnings.push(`${join(dir, x.name)}: not a regular file, not read`);
    try {
      if (names.has(OUTPUT_NAMES.xml)) {
        const f = domainFactsFromXml(await readFile(join(dir, OUTPUT_NAMES.xml), 'utf8'));
        vm.uuid = f.uuid;
        vm.macs.push(...f.macs);
        if (f.name) vm.name = f.name;
      } else if (names.has(OUTPUT_NAMES.xl)) {
        const f = domainFactsFromXl(await readFile(join(dir, OUTPUT_NAMES.xl), 'utf8'));
        vm.uuid = f.uuid;
        vm.macs.push(...f.macs);
      }
    } catch (e) {
      warnings.push(`${dir}: domain config unreadable, not checked for collisions: ${(e as Error).message.split('\n')[0]}`);
    }
    if (names.has(OUTPUT_NAMES.iso)) {
      try {
        const img = openIso(join(dir, OUTPUT_NAMES.iso));
        try {
          const ctx = parseContext(readAllFiles(img));
          for (const n of ctx.nics) {
            if (n.ipv4) vm.addresses.push(n.ipv4.address.address);
            if (n.match.kind === 'mac' && !vm.macs.includes(n.match.mac)) vm.macs.push(n.match.mac);
          }
        } finally {
          img.close();
        }
      } catch (e) {
        warnings.push(`${join(dir, OUTPUT_NAMES.iso)}: unreadable, addresses not checked for collisions: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    vms.push(vm);
  }
  return { vms, warnings };
}

/** Every domain libvirt knows at `uri` (running or not), with its UUID and MACs. */
export async function scanLibvirt(uri: string): Promise<ExistingVm[]> {
  const out: ExistingVm[] = [];
  for (const name of await domainNames(uri)) {
    const f = domainFactsFromXml(await domainXml(uri, name));
    out.push({ name, source: `libvirt ${uri}`, uuid: f.uuid, macs: f.macs, addresses: [] });
  }
  return out;
}

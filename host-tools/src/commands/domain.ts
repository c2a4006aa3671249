/**
 * `contextgen domain`: one libvirt domain XML or xl config for a VM with the context ISO attached.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ContextError, type Problem } from '../../../lib/context/errors.js';
import { parseIPv4 } from '../../../lib/net/ip.js';
import {
  CDROM_BUSES,
  DISK_FORMATS,
  DOMAIN_FORMATS,
  GUEST_TYPES,
  HYPERVISORS,
  defaultCdromBus,
  validateDomainSpec,
  type CdromBus,
  type DiskFormat,
  type DomainFormat,
  type DomainSpec,
  type GuestType,
  type Hypervisor,
  type NicSpec,
} from '../domain/spec.js';
import { libvirtDomainXml } from '../domain/libvirt.js';
import { xlConfig } from '../domain/xl.js';
import type { Context } from '../../../lib/context/model.js';
import { parseContext } from '../../../lib/context/index.js';
import { IsoError, openIso, readAllFiles } from '../../../lib/iso9660/index.js';
import { checkContextNics } from '../nic-check.js';
import { exists, outputProblem, writeOneFile, type Io } from '../io.js';
import { checkIpMacPrefix, checkMac, KVM_OUI, LEGACY_IP_PREFIX, macForIpv4, randomMac, XEN_OUI } from '../mac.js';
import { qemuImgInfo } from '../overlay.js';
import { checkInt, checkUuid, newUuid } from '../values.js';

export interface DomainOptions {
  name: string;
  uuid?: string;
  memory: string;
  vcpus: string;
  disk: string;
  diskFormat?: string;
  context: string;
  cdromBus?: string;
  nic?: string[];
  hypervisor?: string;
  format?: string;
  guestType?: string;
  macPrefix?: string;
  out: string;
  force?: boolean;
  /** Check that the disk and ISO exist here (off when generating for another host). */
  checkPaths?: boolean;
}

const CLI = '<command line>';

function oneOf<T extends string>(list: readonly T[], v: string | undefined, key: string, problems: Problem[]): T | undefined {
  if (v === undefined) return undefined;
  if ((list as readonly string[]).includes(v)) return v as T;
  problems.push({ file: CLI, key, value: v, why: `must be one of ${list.join(', ')}` });
  return undefined;
}

/** `bridge=BR[,mac=MAC|,ip=IPV4]` or `network=NAME[,...]` -> NIC, MAC chosen per the rules in mac.ts. */
export function parseNicOption(
  text: string,
  hypervisor: Hypervisor,
  ipMacPrefix: string,
): { nic?: NicSpec; why?: string } {
  const kv = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part.trim() : part.slice(0, eq).trim();
    if (eq < 0 || !['bridge', 'network', 'mac', 'ip'].includes(k)) {
      return { why: `"${part}": expected bridge=BR or network=NET, then optional mac=MAC or ip=IPV4` };
    }
    if (kv.has(k)) return { why: `${k} given twice` };
    kv.set(k, part.slice(eq + 1).trim());
  }
  const bridge = kv.get('bridge');
  const network = kv.get('network');
  if ((bridge === undefined) === (network === undefined)) return { why: 'give exactly one of bridge=BR or network=NET' };
  if (kv.has('mac') && kv.has('ip')) return { why: 'give mac= or ip=, not both' };
  let mac: string;
  if (kv.has('mac')) {
    const m = checkMac(kv.get('mac')!);
    if (!m.ok) return { why: m.why };
    mac = m.value;
  } else if (kv.has('ip')) {
    const ip = parseIPv4(kv.get('ip')!);
    if (!ip) return { why: `ip=${kv.get('ip')} is not an IPv4 address` };
    mac = macForIpv4(ip, ipMacPrefix);
  } else mac = randomMac(hypervisor === 'xen' ? XEN_OUI : KVM_OUI);
  return { nic: { mac, source: bridge !== undefined ? { kind: 'bridge', name: bridge } : { kind: 'network', name: network! } } };
}

/** The context on an ISO as the agent reads it; a file that is not an ISO, or a broken context, is a problem naming --context. */
function readIsoContext(path: string, given: string): { context: Context } | { problems: Problem[] } {
  let img;
  try {
    // Opening a FIFO or device named as the ISO would block or read the wrong thing.
    if (!statSync(path).isFile()) return { problems: [{ file: CLI, key: '--context', value: given, why: 'not a regular file' }] };
    img = openIso(path);
  } catch (e) {
    const why = e instanceof IsoError ? `not an ISO 9660 image (${e.message})` : `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    return { problems: [{ file: CLI, key: '--context', value: given, why }] };
  }
  try {
    return { context: parseContext(readAllFiles(img)) };
  } catch (e) {
    if (!(e instanceof ContextError)) throw e;
    return { problems: e.problems.map((p) => ({ ...p, file: `${given}: ${p.file}` })) };
  } finally {
    img.close();
  }
}

export interface DomainResult {
  spec: DomainSpec;
  format: DomainFormat;
  text: string;
  out: string;
}

/** Validates every option, renders the config, writes it atomically (refusing to overwrite without force). */
export async function runDomain(o: DomainOptions, io: Io): Promise<DomainResult> {
  const problems: Problem[] = [];
  const format = oneOf(DOMAIN_FORMATS, o.format ?? 'libvirt', '--format', problems) ?? 'libvirt';
  // xl config only makes sense for Xen, so it implies the hypervisor when none is named.
  const hypervisor = oneOf(HYPERVISORS, o.hypervisor ?? (format === 'xl' ? 'xen' : 'kvm'), '--hypervisor', problems) ?? 'kvm';
  const guestType: GuestType = oneOf(GUEST_TYPES, o.guestType ?? 'hvm', '--guest-type', problems) ?? 'hvm';
  const cdromBus: CdromBus =
    oneOf(CDROM_BUSES, o.cdromBus, '--cdrom-bus', problems) ?? (guestType === 'pv' ? 'xen' : defaultCdromBus(hypervisor));
  let diskFormat: DiskFormat | undefined = oneOf(DISK_FORMATS, o.diskFormat, '--disk-format', problems);
  const mem = checkInt(o.memory, 16, 16 * 1024 * 1024, 'MiB');
  if (!mem.ok) problems.push({ file: CLI, key: '--memory', value: o.memory, why: mem.why });
  const cpus = checkInt(o.vcpus, 1, 4096);
  if (!cpus.ok) problems.push({ file: CLI, key: '--vcpus', value: o.vcpus, why: cpus.why });
  const prefix = checkIpMacPrefix(o.macPrefix ?? LEGACY_IP_PREFIX);
  if (!prefix.ok) problems.push({ file: CLI, key: '--mac-prefix', value: o.macPrefix, why: prefix.why });

  const nics: NicSpec[] = [];
  for (const text of o.nic ?? []) {
    const r = parseNicOption(text, hypervisor, prefix.ok ? prefix.value : LEGACY_IP_PREFIX);
    if (r.nic) nics.push(r.nic);
    else problems.push({ file: CLI, key: '--nic', value: text, why: r.why! });
  }

  const disk = resolve(io.cwd, o.disk);
  const context = resolve(io.cwd, o.context);
  const out = resolve(io.cwd, o.out);
  let isoContext: Context | undefined;
  if (o.checkPaths !== false) {
    if (!(await exists(context))) problems.push({ file: CLI, key: '--context', value: o.context, why: 'context ISO does not exist (or pass --no-check-paths)' });
    else {
      const r = readIsoContext(context, o.context);
      if ('problems' in r) problems.push(...r.problems);
      else isoContext = r.context;
    }
    if (!(await exists(disk))) problems.push({ file: CLI, key: '--disk', value: o.disk, why: 'disk image does not exist (or pass --no-check-paths)' });
    else {
      // A raw image declared qcow2 (or the reverse) does not boot; read the header to be sure.
      const found = (await qemuImgInfo(disk)).format;
      if (diskFormat && found !== diskFormat) problems.push({ file: CLI, key: '--disk-format', value: diskFormat, why: `${o.disk} is ${found}` });
      else if (!diskFormat && (DISK_FORMATS as readonly string[]).includes(found)) diskFormat = found as DiskFormat;
    }
  }
  const outWhy = await outputProblem(out, !!o.force);
  if (outWhy) problems.push({ file: out, why: outWhy });

  const spec: DomainSpec = {
    name: o.name,
    uuid: o.uuid === undefined ? newUuid() : (checkUuid(o.uuid).ok ? o.uuid.trim().toLowerCase() : o.uuid),
    memoryMiB: mem.ok ? mem.value : 0,
    vcpus: cpus.ok ? cpus.value : 0,
    hypervisor,
    guestType,
    disk: { path: disk, format: diskFormat ?? 'qcow2' },
    context: { path: context, bus: cdromBus },
    nics,
  };
  const flagName: Record<string, string> = { name: '--name', uuid: '--uuid', disk: '--disk', context: '--context', format: '--format' };
  for (const p of validateDomainSpec(spec, format, CLI, (f) => flagName[f] ?? (f.startsWith('nic') ? '--nic' : `--${f}`))) {
    // memory/vcpus were reported above with the operator's text.
    if (p.key !== '--memory' && p.key !== '--vcpus') problems.push(p);
  }
  const warnings: string[] = [];
  if (isoContext) {
    const c = checkContextNics(isoContext, nics.map((n) => n.mac), `${o.context}: common/context.ini`, `domain ${o.name}`);
    problems.push(...c.problems);
    warnings.push(...c.warnings);
  }
  if (problems.length) throw new ContextError(problems);
  for (const w of warnings) io.err(`contextgen: warning: ${w}`);

  const text = format === 'xl' ? xlConfig(spec) : libvirtDomainXml(spec);
  await writeOneFile(out, text, { force: !!o.force });
  return { spec, format, text, out };
}

export function domainSummary(r: DomainResult): string {
  const nics = r.spec.nics.map((n) => `${n.mac}@${n.source.name}`).join(' ') || 'no NICs';
  return `wrote ${r.out} (${r.format === 'xl' ? 'xl config' : `libvirt ${r.spec.hypervisor} XML`}): ${r.spec.name} ${r.spec.uuid}, ${r.spec.memoryMiB} MiB, ${r.spec.vcpus} vCPU, context on ${r.spec.context.bus}, ${nics}`;
}

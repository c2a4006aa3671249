/**
 * Batch planning: from an inventory to one fully validated VmPlan per VM, with every problem
 * collected (one line each, naming inventory section/key/value) before anything is written.
 * Reads files (templates, scripts, keys, base images, OUTDIR, libvirt) but writes nothing.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ContextError, formatProblem, type Problem } from '../../../lib/context/errors.js';
import type { Context, ContextFiles } from '../../../lib/context/model.js';
import { inSubnet, isUsableHostAddress, networkAddress } from '../../../lib/net/ip.js';
import { applyContextFlags, type ContextFlags } from '../context-flags.js';
import { finalizeContext, loadContextDir, readInputFile, startingContext, type LoadedDir } from '../context-build.js';
import { defaultCdromBus, validateDomainSpec, type DomainSpec, type NicSpec } from '../domain/spec.js';
import { KVM_OUI, macForIpv4, XEN_OUI } from '../mac.js';
import { imageInUse, parseSize, qemuImgInfo, type ImageInfo } from '../overlay.js';
import { exists, outputProblem } from '../io.js';
import { IdSource, type Manifest } from './manifest.js';
import type { HostFacts } from './hosts.js';
import { randomBytes } from 'node:crypto';
import { OUTPUT_NAMES, type ExistingVm } from './existing.js';
import { Allocator, poolSize } from './pool.js';
import { BatchSigners } from '../signing.js';
import type { HostSpec, Inventory, VmRequest } from './inventory.js';

export interface VmPlan {
  name: string;
  where: string;
  dir: string;
  isoPath: string;
  domainPath: string;
  uuid: string;
  mac: string;
  address?: string;
  prefix?: number;
  label: string;
  /** Files for the ISO, already validated and parsed back. */
  files: ContextFiles;
  context: Context;
  domain: DomainSpec;
  format: 'libvirt' | 'xl';
  /**
   * `keep`: the overlay exists and is left alone (a guest's disk is never replaced by --force or
   * --contexts-only); `recreate`: it exists and --recreate-disks replaces it (the domain is not running).
   */
  overlay?: { backing: string; backingFormat: 'qcow2' | 'raw'; sizeBytes?: number; path: string; keep: boolean; recreate: boolean };
  /** The VM directory exists and will be written into (--force). */
  replaces: boolean;
  /** NICs after the first (nic2..), in order. */
  extraNics?: { n: number; mac: string; address?: string; prefix?: number }[];
  /** Set when the inventory has [host NAME] sections: where the VM lives and the volumes it gets there. */
  host?: { name: string; uri: string; pool: string };
  volumes?: {
    /** The context ISO volume; `replace`: ours from an earlier run, deleted and uploaded again. */
    context: { name: string; replace: boolean };
    /** The overlay volume on the host's base volume; `keep`: it exists and holds the guest's data. */
    disk?: { name: string; backingPath: string; backingFormat: 'qcow2' | 'raw'; capacity: number; keep: boolean; recreate: boolean };
  };
}

/** Names of a VM's volumes in its host's pool. */
export const volumeNamesFor = (vm: string) => ({ context: `${vm}-context.iso`, disk: `${vm}.qcow2` });

export interface PlanOptions {
  outDir: string;
  /** Existing VMs of the inventory are regenerated (their identity and disks kept). */
  force: boolean;
  /** Regenerate contexts and configs of existing VMs only: no new VMs, no disk created or touched. */
  contextsOnly?: boolean;
  /** Existing overlays are recreated (refused while the domain runs: see domainState). */
  recreateDisks?: boolean;
  /** libvirt's state of a domain ("running", "shut off") or undefined when unknown to libvirt. */
  domainState?: (name: string, uri: string) => Promise<string | undefined>;
  /** The URI domainState asks for VMs that have no [host] (local mode). */
  stateUri?: string;
  /** [host NAME] of each VM (placement.ts) and what the host has (hosts.ts); empty in local mode. */
  hostOf?: Map<VmRequest, HostSpec>;
  hostFacts?: Map<HostSpec, HostFacts>;
  /** The OUTDIR manifest: which pool volumes are this batch's own from earlier runs. */
  manifest?: Manifest;
  /** Existing VMs: OUTDIR scan plus, with --define, libvirt's domains. */
  existing: ExistingVm[];
  /** Set when --define: domains at this URI must not collide. */
  defineUri?: string;
  /** Check that `disk = PATH` images exist here (default true; off when generating for another host). */
  checkPaths?: boolean;
  /** Seed of derived MACs and UUIDs (the OUTDIR manifest's); random when not given (tests of the planner alone). */
  seed?: string;
}

export interface BatchPlan {
  vms: VmPlan[];
  problems: Problem[];
  /** Not errors, but worth a line on stderr. */
  warnings: string[];
}

/** Per-file caches so a template or key used by 1,000 VMs is read and parsed once. */
class Inputs {
  private templates = new Map<string, Promise<LoadedDir | Problem[]>>();
  private texts = new Map<string, Promise<string | Problem[]>>();
  private images = new Map<string, Promise<ImageInfo | Problem[]>>();
  constructor(private readonly file: string) {}

  template(dir: string, where: string): Promise<LoadedDir | Problem[]> {
    let p = this.templates.get(dir);
    if (!p) {
      // A template that is not there is the inventory key's fault: name it (not the missing directory alone).
      p = stat(dir).then(
        (st) => (st.isDirectory() ? this.loadTemplate(dir, where) : [{ file: this.file, key: `${where} template`, value: dir, why: 'not a directory' }]),
        (e: NodeJS.ErrnoException) => [{ file: this.file, key: `${where} template`, value: dir, why: e.code === 'ENOENT' ? 'directory does not exist' : `cannot read: ${e.code ?? e.message}` }],
      );
      this.templates.set(dir, p);
    }
    return p;
  }

  private loadTemplate(dir: string, where: string): Promise<LoadedDir | Problem[]> {
    return loadContextDir(dir).catch((e: unknown) => {
      if (e instanceof ContextError) return e.problems;
      const err = e as NodeJS.ErrnoException;
      return [{ file: this.file, key: `${where} template`, value: dir, why: `cannot read: ${err.code ?? err.message}` }];
    });
  }


  text(path: string, key: string): Promise<string | Problem[]> {
    let p = this.texts.get(path);
    if (!p) {
      p = readInputFile('/', path, key, this.file).then(
        (b) => b.toString('utf8'),
        (e: unknown) => (e instanceof ContextError ? e.problems : [{ file: this.file, key, value: path, why: String(e) }]),
      );
      this.texts.set(path, p);
    }
    return p;
  }

  image(path: string, key: string): Promise<ImageInfo | Problem[]> {
    let p = this.images.get(path);
    if (!p) {
      p = exists(path).then(async (ok) => {
        if (!ok) return [{ file: this.file, key, value: path, why: 'base image does not exist' }];
        try {
          return await qemuImgInfo(path);
        } catch (e) {
          return [{ file: this.file, key, value: path, why: (e as Error).message }];
        }
      });
      this.images.set(path, p);
    }
    return p;
  }
}

const isProblems = (x: unknown): x is Problem[] => Array.isArray(x);

export async function planBatch(inv: Inventory, opts: PlanOptions): Promise<BatchPlan> {
  const file = inv.file;
  // Problems are kept with the VM apart from the key, so one cause shared by many VMs (a bad key
  // file, a template the serializer rejects) is reported once with the VMs it affects.
  const problems: Problem[] = [];
  const perVm: VmProblem[] = [];
  const add = (where: string, key: string | undefined, value: string | undefined, why: string, at = where) => {
    perVm.push({ file, where, at, key, value, why });
    flagged.add(where);
  };
  /** A problem with a setting: named after the section where the value was written ([defaults] ...). */
  const addKey = (vm: VmRequest, key: string, value: string | undefined, why: string) => add(vm.where, key, value, why, at(vm, key));
  // VMs with a problem already: their generated context is not checked (it would only echo the cause).
  const flagged = new Set<string>(inv.vms.filter((v) => v.invalid).map((v) => v.where));
  const count = () => problems.length + perVm.length;
  const inputs = new Inputs(file);
  const signers = new BatchSigners(file);
  const ids = new IdSource(opts.seed ?? randomBytes(32).toString('hex'));
  const warnings: string[] = [];
  const warned = new Set<string>();
  /** [template, MAC] of template NIC sections naming a MAC a VM lacks -> those VMs (with their MAC). */
  const foreignNics = new Map<string, string[]>();

  // --- Names: unique in the batch, and not already in OUTDIR or libvirt (unless --force replaces them).
  const byName = new Map<string, VmRequest>();
  for (const vm of inv.vms) {
    const first = byName.get(vm.name.toLowerCase());
    if (first) add(vm.where, undefined, vm.name, `VM name already used by ${first.where} (line ${first.line})`);
    else byName.set(vm.name.toLowerCase(), vm);
  }
  // Existing VMs this batch regenerates (same name) do not count as collisions for their own values.
  // Their values are theirs even without --force, so a refused re-run does not also report a spurious
  // "pool exhausted" (their addresses counted as taken by others).
  const regen = opts.force || !!opts.contextsOnly || !!opts.recreateDisks;
  const replaced = (e: ExistingVm) => byName.has(e.name.toLowerCase());
  const already = new Map<string, string[]>();
  for (const e of opts.existing) {
    const vm = byName.get(e.name.toLowerCase());
    // lstat'ed by the scan: a symlink or file where the VM directory goes is never written through or replaced.
    if (vm && e.notDir) add(vm.where, undefined, vm.name, `${e.source} is ${e.notDir}, not a VM directory; refusing to write through or replace it`);
    else if (vm && !regen) {
      const where = e.source.startsWith('libvirt') ? e.source : opts.outDir;
      already.set(where, [...(already.get(where) ?? []), vm.where]);
      flagged.add(vm.where);
    }
  }
  // One line per place, however many VMs: a re-run without --force is one mistake, not 200.
  const order = new Map(inv.vms.map((v, i) => [v.where, i]));
  for (const [where, list] of already) {
    const vms = [...new Set(list)].sort((x, y) => order.get(x)! - order.get(y)!); // inventory order
    const one = vms.length === 1;
    problems.push({
      file,
      key: listSome(vms),
      value: one ? byName.get(vms[0]!.replace(/^\[vm (.*)\]$|^\[group [^\]]+\] (.*)$/, '$1$2').toLowerCase())?.name : undefined,
      why: `${one ? 'already exists' : `${vms.length} VMs already exist`} (${where}); use --force to regenerate ${one ? 'it' : 'them'} (identity and disks are kept) or --contexts-only`,
    });
  }
  const inOutDir = new Set(opts.existing.filter((e) => !e.source.startsWith('libvirt')).map((e) => e.name.toLowerCase()));
  if (opts.contextsOnly) {
    for (const vm of inv.vms) {
      if (!inOutDir.has(vm.name.toLowerCase())) add(vm.where, undefined, vm.name, 'not in OUTDIR; --contexts-only regenerates existing VMs only (run without it to create)');
    }
  }
  if (opts.defineUri && inv.vms.some((v) => v.settings.format === 'xl')) {
    problems.push({ file, key: '[defaults] format', value: 'xl', why: '--define uses virsh, which takes libvirt XML; set format = libvirt' });
  }

  // --- Taken values: from existing VMs, then fixed ones in the inventory.
  const usedUuid = new Map<string, string>();
  const usedMac = new Map<string, string>();
  const usedAddr = new Map<string, string>();
  // Values of an existing VM the inventory names again are its own (self); no other VM may take them.
  const self = new Map<string, string>();
  for (const e of opts.existing) {
    const values = [...(e.uuid ? [[usedUuid, e.uuid] as const] : []), ...e.macs.map((m) => [usedMac, m] as const), ...e.addresses.map((a) => [usedAddr, a] as const)];
    for (const [map, v] of values) {
      map.set(v, e.source);
      if (replaced(e)) self.set(v, e.name.toLowerCase());
    }
  }
  /** Whether `value` (taken in `map` or not) is free for `vm`: nobody's, or its own from an earlier run. */
  const freeFor = (map: Map<string, string>, value: string, vm: VmRequest) => !map.has(value) || self.get(value) === vm.name.toLowerCase();
  // With --force, a replaced VM keeps its identity: its UUID (so `virsh define` updates the domain
  // instead of failing, and the instance id stays) and its random MAC. libvirt's UUID wins over OUTDIR's.
  const keepUuid = new Map<string, string>();
  const keepMac = new Map<string, string>();
  const keepAddr = new Map<string, string[]>();
  for (const e of opts.existing) {
    if (!replaced(e)) continue;
    const k = e.name.toLowerCase();
    if (e.uuid && (e.source.startsWith('libvirt') || !keepUuid.has(k))) keepUuid.set(k, e.uuid);
    if (e.macs[0] && !e.source.startsWith('libvirt')) keepMac.set(k, e.macs[0]);
    if (e.addresses.length && !e.source.startsWith('libvirt')) keepAddr.set(k, e.addresses);
  }

  const claim = (map: Map<string, string>, value: string, vm: VmRequest, key: string, what: string): boolean => {
    const owner = map.get(value);
    if (owner !== undefined && !freeFor(map, value, vm)) {
      add(vm.where, key, value, `${what} already used by ${owner}`);
      return false;
    }
    map.set(value, vm.where);
    return true;
  };

  const pool = inv.pool;
  const prefixFor = (vm: VmRequest): number | undefined => vm.address?.prefix ?? inv.prefix;
  // Reserved in the pool: gateways and name servers of the batch.
  const reserved = new Set<string>();
  for (const vm of inv.vms) {
    if (vm.settings.gateway) reserved.add(vm.settings.gateway);
    for (const d of vm.settings.dns ?? []) reserved.add(d);
  }
  for (const vm of inv.vms) {
    if (vm.uuid) claim(usedUuid, vm.uuid, vm, 'uuid', 'UUID');
    if (vm.mac) claim(usedMac, vm.mac, vm, 'mac', 'MAC');
    if (vm.address) {
      const a = vm.address.address;
      const prefix = prefixFor(vm);
      if (prefix === undefined) add(vm.where, 'address', a, 'no prefix: write address = A/P or set pool/prefix in [defaults]');
      else if (!isUsableHostAddress(a, prefix)) add(vm.where, 'address', a, `is the network or broadcast address of its /${prefix}`);
      else if (pool && vm.address.prefix === undefined && !inSubnet(a, pool.network, pool.prefix)) {
        add(vm.where, 'address', a, `outside the pool subnet ${pool.network}/${pool.prefix}`);
      }
      if (reserved.has(a)) add(vm.where, 'address', a, 'is a gateway or DNS server address of this batch');
      claim(usedAddr, a, vm, 'address', 'address');
    }
  }

  // Fixed addresses of extra NICs (nic2..) are taken before any allocation, like the first NIC's.
  for (const vm of inv.vms) {
    for (const [n, nic] of Object.entries(vm.settings.extraNics ?? {})) {
      if (nic.address.kind !== 'fixed') continue;
      const a = nic.address.address;
      if (!isUsableHostAddress(a, nic.address.prefix)) addKey(vm, `nic${n}`, a, `is the network or broadcast address of its /${nic.address.prefix}`);
      if (reserved.has(a)) addKey(vm, `nic${n}`, a, 'is a gateway or DNS server address of this batch');
      claim(usedAddr, a, vm, `nic${n}`, 'address');
    }
  }

  // --- Allocation from the pool, inventory order (`address = dhcp` VMs need none).
  const needing = inv.vms.filter((v) => !v.address && !v.dhcp && pool);
  if (!pool && !inv.poolDhcp) {
    const none = inv.vms.filter((v) => !v.address && !v.dhcp);
    if (none.length) {
      problems.push({
        file,
        key: '[defaults] pool',
        value: undefined,
        why: `not set, so ${listSome(none.map((v) => v.where))} would get no address; set pool = A-B or N/P, or choose DHCP with pool = dhcp (or address = dhcp per VM)`,
      });
    }
  }
  const allocated = new Map<VmRequest, string>();
  if (pool && needing.length) {
    const taken = new Set<string>([...usedAddr.keys(), ...reserved]);
    const alloc = new Allocator(pool, taken);
    // mac_mode = ip: the MAC is the address, so an address whose MAC is taken (in libvirt, OUTDIR or
    // this batch) is skipped for that VM, not reported as a clash for the operator to fix by hand.
    const macFree = (vm: VmRequest) => (a: string) => vm.mac !== undefined || vm.settings.macMode !== 'ip' || freeFor(usedMac, macForIpv4(a, vm.settings.macPrefix), vm);
    // A regenerated VM keeps its address (identity) when it is still free and inside the pool.
    for (const vm of needing) {
      // With several NICs the first NIC's address is the one inside the first pool's subnet.
      const k = keepAddr.get(vm.name.toLowerCase())?.find((a) => inSubnet(a, pool.network, pool.prefix));
      if (k && (!taken.has(k) || self.get(k) === vm.name.toLowerCase()) && inSubnet(k, pool.network, pool.prefix) && macFree(vm)(k)) {
        allocated.set(vm, k);
        alloc.take(k);
      }
    }
    const without: VmRequest[] = [];
    for (const vm of needing) {
      if (allocated.has(vm)) continue;
      const a = alloc.next(macFree(vm));
      if (a) allocated.set(vm, a);
      else without.push(vm);
    }
    if (without.length) {
      problems.push({
        file,
        key: '[defaults] pool',
        value: undefined,
        why: `pool exhausted: ${needing.length} VMs need an address, ${needing.length - without.length} free of ${poolSize(pool)} (first without one: ${without[0]!.where})`,
      });
    }
  }

  // --- Per VM: inputs, MAC, UUID, context, domain.
  const plans: VmPlan[] = [];
  // Extra NICs' own pools (by their text), allocated in inventory order after the first NICs' addresses.
  const extraPools = new Map<string, Allocator>();
  const taken = () => new Set<string>([...usedAddr.keys(), ...reserved, ...allocated.values()]);
  /**
   * nic2..nic8 of a VM, in number order: address (fixed, from the NIC's pool, or DHCP) and MAC
   * (given, from the address with mac_mode=ip, kept from an earlier run, or derived from the seed).
   * Every MAC and address joins the batch-wide uniqueness maps the first NICs use.
   */
  const planExtraNics = (vm: VmRequest, hypervisor: string): { n: number; mac: string; address?: string; prefix?: number; source: NicSpec['source'] }[] => {
    const out: { n: number; mac: string; address?: string; prefix?: number; source: NicSpec['source'] }[] = [];
    const key = vm.name.toLowerCase();
    const before = opts.existing.find((e) => replaced(e) && e.name.toLowerCase() === key && !e.source.startsWith('libvirt'));
    for (const [n, nic] of Object.entries(vm.settings.extraNics ?? {}).sort(([a], [b]) => Number(a) - Number(b))) {
      const k = `nic${n}`;
      let address: string | undefined;
      let prefix: number | undefined;
      if (nic.address.kind === 'fixed') ({ address, prefix } = nic.address);
      else if (nic.address.kind === 'pool') {
        const pl = nic.address.pool;
        let alloc = extraPools.get(nic.address.text);
        if (!alloc) extraPools.set(nic.address.text, (alloc = new Allocator(pl, taken())));
        prefix = pl.prefix;
        // A regenerated VM keeps its address in this NIC's subnet (identity), when still its own.
        const keep = before?.addresses.find((a) => inSubnet(a, pl.network, pl.prefix) && self.get(a) === key && !out.some((o) => o.address === a));
        if (keep) {
          address = keep;
          alloc.take(keep);
        } else address = alloc.next((a) => nic.mac !== undefined || nic.macMode !== 'ip' || freeFor(usedMac, macForIpv4(a, vm.settings.macPrefix), vm));
        if (!address) {
          addKey(vm, k, nic.address.text.replace(/\/$/, ''), `pool of ${k} exhausted (${poolSize(pl)} addresses)`);
          continue;
        }
        usedAddr.set(address, vm.where);
      }
      let mac = nic.mac;
      if (mac) claim(usedMac, mac, vm, k, 'MAC');
      else if (nic.macMode === 'ip') {
        mac = macForIpv4(address!, vm.settings.macPrefix);
        claim(usedMac, mac, vm, k, 'MAC (derived from the address)');
      } else {
        // The MAC this NIC had (interface order of the earlier domain.xml), when still its own.
        const old = before?.macs[Number(n) - 1];
        if (old && freeFor(usedMac, old, vm) && !out.some((o) => o.mac === old)) mac = old;
        else {
          const oui = hypervisor === 'xen' ? XEN_OUI : KVM_OUI;
          let attempt = 0;
          do mac = ids.mac(oui, `${vm.name}/${k}`, attempt++);
          while (usedMac.has(mac) && !freeFor(usedMac, mac, vm));
        }
        usedMac.set(mac, vm.where);
      }
      out.push({ n: Number(n), mac, address, prefix, source: nic.source.kind === 'user' ? { kind: 'user' } : nic.source });
    }
    return out;
  };
  for (const vm of inv.vms) {
    const s = vm.settings;
    const before = count();
    // xl config is Xen's: it implies the hypervisor (and so the MAC OUI and the CD-ROM bus).
    const hypervisor = s.format === 'xl' ? 'xen' : s.hypervisor;
    const address = vm.address?.address ?? allocated.get(vm);
    const prefix = address ? prefixFor(vm) ?? pool?.prefix : undefined;

    let mac = vm.mac;
    if (!mac) {
      if (s.macMode === 'ip') {
        if (!address) addKey(vm, 'mac_mode', 'ip', 'needs an address (fixed or from the pool)');
        else {
          mac = macForIpv4(address, s.macPrefix);
          claim(usedMac, mac, vm, 'mac_mode', 'MAC (derived from the address)');
        }
      } else if (keepMac.has(vm.name.toLowerCase()) && freeFor(usedMac, keepMac.get(vm.name.toLowerCase())!, vm)) {
        mac = keepMac.get(vm.name.toLowerCase())!;
        usedMac.set(mac, vm.where);
      } else {
        const oui = hypervisor === 'xen' ? XEN_OUI : KVM_OUI;
        // Derived from the OUTDIR seed: the dry run prints what the real run writes. A clash is ours to
        // avoid (next attempt), not the operator's to fix.
        let attempt = 0;
        do mac = ids.mac(oui, vm.name, attempt++);
        while (usedMac.has(mac));
        usedMac.set(mac, vm.where);
      }
    }
    const extra = planExtraNics(vm, hypervisor);
    let uuid = vm.uuid;
    const kept = keepUuid.get(vm.name.toLowerCase());
    if (!uuid && kept && freeFor(usedUuid, kept, vm)) {
      uuid = kept;
      usedUuid.set(uuid, vm.where);
    }
    if (!uuid) {
      let attempt = 0;
      do uuid = ids.uuid(vm.name, attempt++);
      while (usedUuid.has(uuid));
      usedUuid.set(uuid, vm.where);
    }
    if (s.gateway && address && prefix !== undefined && !inSubnet(s.gateway, networkAddress(address, prefix), prefix)) {
      addKey(vm, 'gateway', s.gateway, `not in the VM's subnet ${networkAddress(address, prefix)}/${prefix}`);
    }
    if (!s.bridge && !s.network && !s.userNetworking) add(vm.where, 'bridge', undefined, 'no bridge (or libvirt network, or user_networking = yes) given in [defaults] or the section');

    // Context inputs (cached across VMs).
    let base: LoadedDir = { context: startingContext(), extras: new Map() };
    if (s.template) {
      const t = await inputs.template(s.template, at(vm, 'template'));
      if (isProblems(t)) problems.push(...t);
      else {
        // The batch owns each VM's NIC. A [nic "MAC"] section for this VM's MAC is merged; one naming a
        // MAC the VM lacks would make the agent refuse the context (collected below, one line per MAC).
        const mine = new Set([mac, ...extra.map((x) => x.mac)]);
        const own = t.context.nics.filter((n) => n.match.kind === 'mac' && mine.has(n.match.mac));
        for (const n of t.context.nics) {
          if (n.match.kind !== 'mac' || mine.has(n.match.mac)) continue;
          const k = JSON.stringify([s.template, n.match.mac]);
          const list = foreignNics.get(k) ?? [];
          list.push(`${vm.where} (${mac ?? 'no MAC'})`);
          foreignNics.set(k, list);
        }
        const named = t.context.nics.filter((n) => n.match.kind === 'name').length;
        if (named && !warned.has(s.template)) {
          warned.add(s.template);
          warnings.push(`${s.template}: the template's ${named} NIC section(s) matched by name are ignored; the batch configures each VM's NIC`);
        }
        base = { context: { ...t.context, nics: own }, extras: t.extras };
      }
    }
    const flags: ContextFlags = {
      hostname: vm.name,
      domain: s.domain,
      dns: s.dns,
      search: s.search,
      instanceId: uuid,
      nic: mac ? [address ? `${mac}=${address}/${prefix}` : `${mac}=dhcp`, ...extra.map((x) => (x.address ? `${x.mac}=${x.address}/${x.prefix}` : `${x.mac}=dhcp`))] : [],
      gateway: address ? s.gateway : undefined,
      postInstallMode: s.postInstallMode,
    };
    if (s.postInstall) {
      const t = await inputs.text(s.postInstall, `${at(vm, 'post_install')} post_install`);
      if (isProblems(t)) problems.push(...t);
      else flags.postInstall = { script: t, source: s.postInstall };
    }
    if (s.sshKeys) {
      flags.sshKeys = [];
      for (const k of s.sshKeys) {
        const t = await inputs.text(k, `${at(vm, 'ssh_key')} ssh_key`);
        if (isProblems(t)) problems.push(...t);
        else flags.sshKeys.push({ text: t, source: k });
      }
    }

    // Disk: an overlay on the base image, or a given disk path; on a [host], volumes in its pool.
    const dir = join(opts.outDir, vm.name);
    const host = opts.hostOf?.get(vm);
    let overlay: VmPlan['overlay'];
    let volumes: VmPlan['volumes'];
    let diskPath = s.disk?.replaceAll('{name}', vm.name);
    let diskFormat = s.diskFormat ?? 'qcow2';
    // A host that failed its checks is reported once (checkHosts); its VMs are not checked further.
    if (host && !opts.hostFacts?.get(host)) flagged.add(vm.where);
    if (host) {
      const r = await planVolumes(vm, host, opts, inOutDir.has(vm.name.toLowerCase()));
      for (const x of r.problems) add(vm.where, x.key, x.value, x.why, x.at ?? vm.where);
      volumes = r.volumes;
      if (volumes?.disk) {
        diskPath = join(host.pool, volumes.disk.name); // informational: the domain names pool and volume
        diskFormat = 'qcow2';
      }
    } else if (s.baseImage) {
      const info = await inputs.image(s.baseImage, `${at(vm, 'base_image')} base_image`);
      if (isProblems(info)) problems.push(...info);
      else if (info.format !== 'qcow2' && info.format !== 'raw') addKey(vm, 'base_image', s.baseImage, `format ${info.format} is not qcow2 or raw`);
      else if (s.baseFormat && s.baseFormat !== info.format) addKey(vm, 'base_format', s.baseFormat, `base image is ${info.format}`);
      else {
        const sizeBytes = s.size ? parseSize(s.size) : undefined;
        if (sizeBytes !== undefined && sizeBytes < info.virtualSize) addKey(vm, 'size', s.size, `smaller than the base image (${info.virtualSize} bytes)`);
        const path = join(dir, OUTPUT_NAMES.overlay);
        const diskExists = await exists(path);
        overlay = { backing: s.baseImage, backingFormat: info.format, sizeBytes, path, keep: diskExists && !opts.recreateDisks, recreate: diskExists && !!opts.recreateDisks };
        diskPath = overlay.path;
        diskFormat = 'qcow2';
        if (!diskExists && opts.contextsOnly && inOutDir.has(vm.name.toLowerCase())) add(vm.where, undefined, vm.name, `${path} is missing; --contexts-only never creates disks (run with --force)`);
        if (overlay.recreate) {
          const why = await recreateRefusal(vm.name, path, s.format, opts, opts.stateUri ?? 'qemu:///system');
          if (why) add(vm.where, undefined, vm.name, why);
        }
      }
    } else if (!diskPath) add(vm.where, 'base_image', undefined, 'no base_image (for an overlay) or disk path given');
    else if (opts.checkPaths !== false && !(await exists(diskPath))) addKey(vm, 'disk', s.disk, `${diskPath} does not exist (or pass --no-check-paths)`);

    if (count() > before || flagged.has(vm.where)) continue; // context/domain checks would only repeat the cause
    const domainPath = join(dir, s.format === 'xl' ? OUTPUT_NAMES.xl : OUTPUT_NAMES.xml);
    for (const out of [join(dir, OUTPUT_NAMES.iso), domainPath, ...(overlay?.recreate ? [overlay.path] : [])]) {
      const why = await outputProblem(out, regen);
      if (why) add(vm.where, undefined, vm.name, `${out}: ${why}`);
    }
    if (count() > before) continue;

    let final;
    try {
      final = finalizeContext(applyContextFlags(base.context, flags, file), base.extras);
    } catch (e) {
      if (!(e instanceof ContextError)) throw e;
      for (const p of e.problems) {
        // Flag-level problems name an inventory key; model problems name a generated file.
        if (p.file === file) addKey(vm, inventoryKey(p.key), p.value, p.why);
        else add(vm.where, `(generated ${p.file}${p.key ? ` ${p.key}` : ''})`, p.value, p.why);
      }
      continue;
    }
    let files = final.files;
    if (s.signKey) {
      // sign_key: the context is valid only on this VM (its domain UUID and MAC).
      const signed = await signers.sign(s.signKey, vm.where, final.files, s.label, { uuid, macs: mac ? [mac, ...extra.map((x) => x.mac)] : [] }, final.parsed.instanceId);
      if (isProblems(signed)) {
        problems.push(...signed);
        continue;
      }
      files = signed;
    }
    const format = s.format;
    const isoPath = join(dir, OUTPUT_NAMES.iso);
    const domain: DomainSpec = {
      name: vm.name,
      uuid,
      memoryMiB: s.memory,
      vcpus: s.vcpus,
      hypervisor,
      guestType: s.guestType,
      disk: { path: diskPath!, format: diskFormat, ...(host && volumes?.disk ? { volume: { pool: host.pool, volume: volumes.disk.name } } : {}) },
      context: {
        path: isoPath,
        bus: s.cdromBus ?? (s.guestType === 'pv' ? 'xen' : defaultCdromBus(hypervisor)),
        ...(host && volumes ? { volume: { pool: host.pool, volume: volumes.context.name } } : {}),
      },
      nics: mac ? [{ mac, source: nicSource(s) }, ...extra.map((x) => ({ mac: x.mac, source: x.source }))] : [],
      ...(s.kernel ? { boot: { kernel: s.kernel, initrd: s.initrd, cmdline: s.cmdline } } : {}),
      ...(s.consoleLog ? { consoleLog: s.consoleLog.replaceAll('{name}', vm.name) } : {}),
    };
    if (!s.kernel && (s.initrd || s.cmdline !== undefined)) addKey(vm, s.initrd ? 'initrd' : 'cmdline', s.initrd ?? s.cmdline, 'needs kernel = PATH (direct kernel boot)');
    const dp = validateDomainSpec(domain, format, file, (f) => f.replace(/^nic\[\d+\]\./, '').replace('-', '_'));
    if (dp.length) {
      for (const p of dp) if (p.key) addKey(vm, p.key, p.value, p.why); else add(vm.where, p.key, p.value, p.why);
      continue;
    }
    plans.push({
      name: vm.name,
      where: vm.where,
      dir,
      isoPath,
      domainPath,
      uuid,
      mac: mac!,
      address,
      prefix,
      label: s.label,
      files,
      context: final.parsed,
      domain,
      format,
      overlay,
      ...(extra.length ? { extraNics: extra.map(({ n, mac: m, address: a, prefix: p }) => ({ n, mac: m, address: a, prefix: p })) } : {}),
      replaces: opts.existing.some((e) => replaced(e) && e.name.toLowerCase() === vm.name.toLowerCase() && !e.source.startsWith('libvirt')),
      ...(host ? { host: { name: host.name, uri: host.uri, pool: host.pool }, volumes } : {}),
    });
  }
  for (const [k, vms] of foreignNics) {
    const [template, m] = JSON.parse(k) as [string, string];
    const more = vms.length > 3 ? ` and ${vms.length - 3} more` : '';
    problems.push({
      file: join(template, 'common/context.ini'),
      key: `[nic "${m}"]`,
      value: m,
      why: `no NIC of ${vms.slice(0, 3).join(', ')}${more} has this MAC; the agent would refuse the whole context (remove the section: the batch writes each VM's NIC)`,
    });
  }
  return { vms: plans, problems: [...dedupe(problems), ...collapse(perVm)], warnings };
}

/** Why an existing disk must not be recreated now, or undefined: only a domain libvirt reports shut off (or does not know) and an image no QEMU holds. */
async function recreateRefusal(name: string, disk: string | undefined, format: string, opts: PlanOptions, uri: string): Promise<string | undefined> {
  if (format === 'xl') return 'cannot ask libvirt whether an xl domain is running; --recreate-disks is for libvirt domains';
  const state = await opts.domainState?.(name, uri);
  if (state !== undefined && state !== 'shut off') return `domain is ${state} at ${uri}; shut it down before --recreate-disks`;
  if (disk && (await imageInUse(disk))) return `${disk} is in use (a QEMU process holds its lock); shut the guest down before --recreate-disks`;
  return undefined;
}

function nicSource(s: VmRequest['settings']): NicSpec['source'] {
  if (s.bridge) return { kind: 'bridge', name: s.bridge };
  if (s.network) return { kind: 'network', name: s.network };
  return { kind: 'user' };
}

interface HostProblem {
  key?: string;
  value?: string;
  why: string;
  /** Section the value was written in, when not the VM's own. */
  at?: string;
}

/**
 * The VM's volumes in its host's pool. A volume already there is ours only when the manifest records
 * it for this VM (same pool, same key): then the context ISO is replaced and the overlay kept (or
 * recreated with --recreate-disks). Anyone else's volume is never touched.
 */
async function planVolumes(vm: VmRequest, host: HostSpec, opts: PlanOptions, inOutDir: boolean): Promise<{ volumes?: VmPlan['volumes']; problems: HostProblem[] }> {
  const problems: HostProblem[] = [];
  const facts = opts.hostFacts?.get(host);
  if (!facts) return { problems }; // the host's own problem is reported once by checkHosts
  const s = vm.settings;
  const names = volumeNamesFor(vm.name);
  const recorded = opts.manifest?.vms[vm.name]?.volumes ?? [];
  const ours = (name: string) => recorded.some((r) => r.pool === host.pool && r.uri === host.uri && r.name === name);
  const foreign = (name: string) => ({ why: `volume ${name} already exists in pool ${host.pool} at ${host.uri} and this batch did not make it; refusing to replace it` });
  const ctxExists = facts.volumes.has(names.context);
  if (ctxExists && !ours(names.context)) problems.push(foreign(names.context));
  if (s.baseImage) problems.push({ key: 'base_image', value: s.baseImage, why: `a local image; VMs on [host ${host.name}] get overlays on its base_volume`, at: at(vm, 'base_image') });
  let disk: NonNullable<VmPlan['volumes']>['disk'];
  if (!s.disk) {
    if (!host.baseVolume) problems.push({ why: `${host.where} has no base_volume, so the VM has no disk (set base_volume there, or disk = PATH on that host)` });
    else if (facts.base) {
      const diskExists = facts.volumes.has(names.disk);
      if (diskExists && !ours(names.disk)) problems.push(foreign(names.disk));
      const sizeBytes = s.size ? parseSize(s.size) : undefined;
      const baseCap = facts.base.capacity ?? 0;
      if (sizeBytes !== undefined && sizeBytes < baseCap) problems.push({ key: 'size', value: s.size, why: `smaller than base volume ${host.baseVolume} (${baseCap} bytes)`, at: at(vm, 'size') });
      disk = {
        name: names.disk,
        backingPath: facts.base.path,
        backingFormat: facts.base.format as 'qcow2' | 'raw',
        capacity: sizeBytes ?? baseCap,
        keep: diskExists && !opts.recreateDisks,
        recreate: diskExists && !!opts.recreateDisks,
      };
      if (!diskExists && opts.contextsOnly && inOutDir) problems.push({ why: `volume ${names.disk} is missing in pool ${host.pool} at ${host.uri}; --contexts-only never creates disks (run with --force)` });
      if (disk.recreate) {
        const why = await recreateRefusal(vm.name, undefined, s.format, opts, host.uri);
        if (why) problems.push({ why });
      }
    }
  }
  return { volumes: { context: { name: names.context, replace: ctxExists }, disk }, problems };
}

/** Where a VM's `key` was written: its own section, its group or [defaults] (for keys set nowhere: the VM's section). */
function at(vm: VmRequest, key: string): string {
  return vm.settings.origin[key] ?? vm.where.replace(/^(\[group [^\]]+\]) .*$/, '$1');
}

/** "a, b, c and 5 more". */
function listSome(items: string[]): string {
  return `${items.slice(0, 3).join(', ')}${items.length > 3 ? ` and ${items.length - 3} more` : ''}`;
}

/** '--post-install-mode' -> 'post_install_mode': flag names back to inventory keys. */
function inventoryKey(flagKey: string | undefined): string {
  return (flagKey ?? '').replace(/^--/, '').replaceAll('-', '_');
}

interface VmProblem {
  file: string;
  /** The VM the problem is about. */
  where: string;
  /** The section where the offending value was written (the VM's own section, or [defaults]/[group]). */
  at: string;
  key?: string;
  value?: string;
  why: string;
}

/** Same key, value and reason for several VMs -> one line naming the first few. */
function collapse(list: VmProblem[]): Problem[] {
  const groups = new Map<string, { p: VmProblem; wheres: string[] }>();
  for (const p of list) {
    const sig = JSON.stringify([p.file, p.at, p.key, p.value, p.why]);
    const g = groups.get(sig);
    if (g) {
      if (!g.wheres.includes(p.where)) g.wheres.push(p.where);
    } else groups.set(sig, { p, wheres: [p.where] });
  }
  return [...groups.values()].map(({ p, wheres }) => {
    if (p.at === wheres[0]) {
      // Written in the VM's own section: "[vm a] key ... (also [vm b], ...)" when the same cause repeats.
      const others = wheres.slice(1);
      const also = others.length === 0 ? '' : ` (also ${listSome(others)})`;
      return { file: p.file, key: p.key ? `${p.at} ${p.key}` : p.at, value: p.value, why: p.why + also };
    }
    // Written in [defaults] or a [group]: that section is named, then the VMs it hurts.
    return { file: p.file, key: p.key ? `${p.at} ${p.key}` : p.at, value: p.value, why: `${p.why} (for ${listSome(wheres)})` };
  });
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}


/**
 * `contextgen list` and `contextgen remove`: the VMs a batch recorded in OUTDIR/.contextgen.json.
 * remove deletes only what contextgen made (files whose sha256 still matches the record, disks and
 * pool volumes it created, a volume only while its key is the recorded one), undefines the domain where it was defined, and refuses a running domain unless --force.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, rmdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ContextError, type Problem } from '../../../lib/context/errors.js';
import { writeOneFile, type Io } from '../io.js';
import { deleteVolume, destroyDomain, domainState, undefineDomain, volumeInfo } from '../libvirt/virsh.js';
import { loadManifest, MANIFEST_NAME, manifestText, type Manifest } from '../batch/manifest.js';

async function recorded(outDir: string): Promise<Manifest> {
  const m = await loadManifest(outDir);
  if ('problem' in m) throw new ContextError([m.problem]);
  if (!m.exists) throw new ContextError([{ file: join(outDir, MANIFEST_NAME), why: 'no batch manifest here (is this a batch OUTDIR?)' }]);
  return m.manifest;
}

export async function runList(o: { out?: string }, io: Io): Promise<string[]> {
  const outDir = resolve(io.cwd, o.out ?? '.');
  const m = await recorded(outDir);
  return Object.entries(m.vms)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, v]) => {
      const vols = v.volumes.length ? `\t${v.host ?? '-'}: ${v.volumes.map((x) => `${x.pool}/${x.name}`).join(', ')}` : '';
      return [name, v.address ? `${v.address}/${v.prefix}` : 'dhcp', v.mac, v.uuid, v.uri ?? '-', join(outDir, name)].join('\t') + vols;
    });
}

export interface RemoveOptions {
  names: string[];
  out?: string;
  /** Stop (virsh destroy) a running domain before undefining it. */
  force?: boolean;
}

export async function runRemove(o: RemoveOptions, io: Io): Promise<{ removed: string[]; kept: string[] }> {
  const outDir = resolve(io.cwd, o.out ?? '.');
  const m = await recorded(outDir);
  const file = join(outDir, MANIFEST_NAME);
  // Validate every name and every domain's state first: nothing is removed when one is refused.
  const problems: Problem[] = [];
  for (const name of o.names) {
    const v = m.vms[name];
    if (!v) {
      problems.push({ file, key: name, why: 'no such VM in the manifest' });
      continue;
    }
    if (v.uri) {
      const state = await domainState(v.uri, name);
      if (state !== undefined && state !== 'shut off' && !o.force) problems.push({ file, key: name, why: `domain is ${state} at ${v.uri}; shut it down or pass --force to stop it` });
    }
  }
  if (problems.length) throw new ContextError(problems);

  const kept: string[] = [];
  const removed: string[] = [];
  for (const name of o.names) {
    const v = m.vms[name]!;
    const state = v.uri ? await domainState(v.uri, name) : undefined;
    if (v.uri && state !== undefined) {
      if (state !== 'shut off') await destroyDomain(v.uri, name);
      await undefineDomain(v.uri, name);
    }
    // Pool volumes: deleted only while the volume there is still the one contextgen made (same key).
    for (const vol of v.volumes) {
      const info = await volumeInfo(vol.uri, vol.pool, vol.name);
      if (!info) continue;
      if (info.key !== vol.key) {
        kept.push(`${vol.uri} ${vol.pool}/${vol.name}`);
        io.err(`contextgen: warning: volume ${vol.name} in pool ${vol.pool} at ${vol.uri} is not the one contextgen made (key ${info.key}, recorded ${vol.key}); kept`);
        continue;
      }
      await deleteVolume(vol.uri, vol.pool, vol.name);
    }
    const dir = join(outDir, name);
    const st = await lstat(dir).catch(() => undefined);
    if (st && !st.isDirectory()) throw new ContextError([{ file: dir, why: 'not a directory (a symlink?); refusing to delete anything through it' }]);
    for (const [f, sha] of Object.entries(v.files)) {
      const p = join(dir, f);
      const data = await readRegular(p);
      if (data === undefined) continue;
      if (createHash('sha256').update(data).digest('hex') !== sha) {
        kept.push(p);
        io.err(`contextgen: warning: ${p}: changed since contextgen wrote it; kept`);
        continue;
      }
      await unlink(p);
    }
    for (const d of v.disks) {
      const p = join(dir, d);
      const s = await lstat(p).catch(() => undefined);
      if (s?.isFile()) await unlink(p);
    }
    const left = await readdir(dir).catch(() => [] as string[]);
    if (st && left.length === 0) await rmdir(dir);
    else if (st) kept.push(...left.map((n) => join(dir, n)).filter((p) => !kept.includes(p)));
    delete m.vms[name];
    // Recorded after each VM, so an interrupted remove leaves a manifest that matches the disk.
    await writeOneFile(file, manifestText(m), { force: true });
    removed.push(name);
  }
  return { removed, kept };
}

async function readRegular(p: string): Promise<Buffer | undefined> {
  const s = await lstat(p).catch(() => undefined);
  return s?.isFile() ? readFile(p) : undefined;
}

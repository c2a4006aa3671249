/**
 * The per-OUTDIR record a batch keeps in OUTDIR/.contextgen.json: the allocation seed, so MACs and
 * UUIDs come out the same in a dry run and in the real run, and in later runs. Validated with zod
 * when read back: a hand-edited or foreign file is a clear error, not a crash.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Problem } from '../../../lib/context/errors.js';

export const MANIFEST_NAME = '.contextgen.json';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** A libvirt storage volume contextgen created (remove deletes it only while its key still matches). */
const VolumeRecord = z.object({
  uri: z.string(),
  pool: z.string(),
  name: z.string(),
  key: z.string(),
  kind: z.enum(['context', 'disk']),
});
export type VolumeRecord = z.infer<typeof VolumeRecord>;

const VmRecord = z.object({
  uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/),
  address: z.string().optional(),
  prefix: z.number().int().min(0).max(32).optional(),
  /** libvirt URI the domain was defined at (only when --define). */
  uri: z.string().optional(),
  /** Files contextgen wrote in the VM directory (names relative to it) with their sha256. */
  files: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/), Sha256),
  /** Disk images contextgen created there (their content is the guest's, so no hash). */
  disks: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/)),
  /** The inventory's [host NAME] the VM was placed on: it stays there on regeneration. */
  host: z.string().optional(),
  /** Pool volumes contextgen created for it (context ISO, overlay). */
  volumes: z.array(VolumeRecord).default([]),
});
export type VmRecord = z.infer<typeof VmRecord>;

const ManifestSchema = z.object({
  version: z.literal(1),
  /** 64 hex digits: the input of every derived MAC and UUID of this OUTDIR. */
  seed: Sha256,
  /** What was made for each VM, by name. */
  vms: z.record(z.string(), VmRecord).default({}),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * The manifest of `outDir`, or a fresh one whose seed is derived from this host's name and the
 * OUTDIR path: stable until written (so a dry run of a new OUTDIR prints what the real run writes),
 * and different per host and directory (so two batches on one bridge do not draw the same MACs).
 */
export async function loadManifest(outDir: string): Promise<{ manifest: Manifest; exists: boolean } | { problem: Problem }> {
  const file = join(outDir, MANIFEST_NAME);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const seed = createHash('sha256').update(`contextgen-seed-v1\0${hostname()}\0${outDir}`).digest('hex');
      return { manifest: { version: 1, seed, vms: {} }, exists: false };
    }
    return { problem: { file, why: `cannot read the batch manifest: ${code ?? (e as Error).message}` } };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { problem: { file, why: `not JSON: ${(e as Error).message}` } };
  }
  const r = ManifestSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { problem: { file, key: i.path.join('.') || undefined, why: i.message } };
  }
  return { manifest: r.data, exists: true };
}

export function manifestText(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** Deterministic identities from the seed: the same name and attempt always give the same value. */
export class IdSource {
  constructor(private readonly seed: string) {}

  private bytes(kind: string, name: string, attempt: number): Buffer {
    return createHash('sha256').update(`${this.seed}\0${kind}\0${name}\0${attempt}`).digest();
  }

  /** An RFC 9562 version 8 (custom, hash-based) UUID. */
  uuid(name: string, attempt: number): string {
    const b = this.bytes('uuid', name, attempt).subarray(0, 16);
    b[6] = (b[6]! & 0x0f) | 0x80;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  mac(oui: string, name: string, attempt: number): string {
    const b = this.bytes('mac', name, attempt);
    return `${oui}:${[b[0]!, b[1]!, b[2]!].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  }
}

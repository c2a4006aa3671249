import type { Logger } from 'pino';
import { z } from 'zod';
import { contextHash } from '../../../lib/context/index.js';
import type { ContextFiles } from '../../../lib/context/model.js';
import type { RootFs } from '../../../lib/fs/index.js';
import { SIGNATURE_PATH } from '../../../lib/signing/manifest.js';
import { assertSafeInstanceId } from './instance-id.js';
import { PATHS } from './paths.js';

export { assertSafeInstanceId, isSafeInstanceId } from './instance-id.js';

/**
 * Which instance this boot belongs to, and what the previous one left behind.
 * /var/lib/contextualization/instance.json survives reboots: it tells "first boot of this instance"
 * (a new id) from "reboot", and remembers the last network config applied, so a boot without the CD
 * keeps a working static config instead of replacing it with DHCP.
 */

export interface NetworkSummary {
  /** static: addresses from a context; dhcp: a context asked for DHCP; dhcp-fallback: no context, DHCP on one NIC. */
  kind: 'static' | 'dhcp' | 'dhcp-fallback' | 'none';
  backend?: string;
  nics: { name: string; mac: string; method: 'static' | 'dhcp' | 'manual'; ipv4?: string; ipv6?: string }[];
}

export interface InstanceRecord {
  schema: 1;
  id: string;
  firstSeen: string;
  lastSeen: string;
  lastApplied?: { at: string; network: NetworkSummary };
}

/** The explicit id when the context gives one, else a hash of the context files (same files, same id). */
export function instanceIdFor(explicit: string | undefined, files: ContextFiles): string {
  // The signature is not part of what it signs: re-signing (a new expiry) is not a new instance.
  const signed = files.has(SIGNATURE_PATH) ? new Map([...files].filter(([p]) => p !== SIGNATURE_PATH)) : files;
  const id = explicit ?? contextHash(signed);
  assertSafeInstanceId(id, explicit !== undefined ? 'common/context.ini: instance id' : 'context hash');
  return id;
}

const NetworkSummarySchema = z.object({
  kind: z.enum(['static', 'dhcp', 'dhcp-fallback', 'none']),
  backend: z.string().optional(),
  nics: z.array(z.object({
    name: z.string(), mac: z.string(), method: z.enum(['static', 'dhcp', 'manual']), ipv4: z.string().optional(), ipv6: z.string().optional(),
  })),
});
const InstanceRecordSchema = z.object({
  schema: z.literal(1),
  id: z.string(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  lastApplied: z.object({ at: z.string(), network: NetworkSummarySchema }).optional(),
});

/** The record on disk; undefined when absent or unreadable (a corrupt state file must not stop the boot). */
export function readInstanceRecord(fs: RootFs, logger?: Logger): InstanceRecord | undefined {
  let text: string | undefined;
  try {
    text = fs.readText(PATHS.instanceFile, { maxBytes: 1024 * 1024 });
  } catch (err) {
    logger?.warn(`cannot read the instance record, treating it as none: ${(err as Error).message}`);
    return undefined;
  }
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const r = InstanceRecordSchema.safeParse(json);
  if (!r.success) {
    logger?.warn(`${fs.host(PATHS.instanceFile)}: corrupt instance record; treating it as none`);
    return undefined;
  }
  return r.data as InstanceRecord;
}

export function writeInstanceRecord(fs: RootFs, record: InstanceRecord): void {
  fs.ensureDir(PATHS.stateDir, 0o700);
  fs.writeFileAtomic(PATHS.instanceFile, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

/** Compare this boot's instance id with the previous record. Pure: the caller writes the record. */
export function identifyInstance(
  previous: InstanceRecord | undefined,
  id: string,
  now = new Date(),
): { firstBoot: boolean; record: InstanceRecord } {
  const at = now.toISOString();
  if (previous && previous.id === id) return { firstBoot: false, record: { ...previous, lastSeen: at } };
  return { firstBoot: true, record: { schema: 1, id, firstSeen: at, lastSeen: at } };
}

export function withNetworkApplied(record: InstanceRecord, network: NetworkSummary, now = new Date()): InstanceRecord {
  return { ...record, lastApplied: { at: now.toISOString(), network } };
}

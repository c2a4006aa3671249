import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { contextHash } from '../../../lib/context/index.js';
import type { ContextFiles } from '../../../lib/context/model.js';
import { ensureDir, writeFileAtomic } from './atomic.js';
import { assertSafeInstanceId } from './instance-id.js';

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
  const id = explicit ?? contextHash(files);
  assertSafeInstanceId(id, explicit !== undefined ? 'common/context.ini: instance id' : 'context hash');
  return id;
}

/** The record on disk; undefined when absent or unreadable (a corrupt state file must not stop the boot). */
export function readInstanceRecord(file: string, logger?: Logger): InstanceRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger?.warn({ file, err }, 'cannot read instance record; treating as none');
    return undefined;
  }
  try {
    const rec = JSON.parse(text) as Partial<InstanceRecord>;
    if (rec.schema !== 1 || typeof rec.id !== 'string' || typeof rec.firstSeen !== 'string') throw new Error('unexpected shape');
    return rec as InstanceRecord;
  } catch (err) {
    logger?.warn({ file, err: (err as Error).message }, 'corrupt instance record; treating as none');
    return undefined;
  }
}

export function writeInstanceRecord(file: string, record: InstanceRecord): void {
  ensureDir(dirname(file), 0o700);
  writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, 0o600);
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

export type NoContextDecision =
  | { action: 'keep-previous'; reason: string }
  | { action: 'dhcp-fallback'; reason: string };

/**
 * No context this boot. A static config applied for an earlier instance stays: the CD may have been
 * detached after provisioning, and replacing the config with DHCP would cut the VM off (cloud-init#3777).
 */
export function decideWithoutContext(previous: InstanceRecord | undefined): NoContextDecision {
  const net = previous?.lastApplied?.network;
  if (previous && net && (net.kind === 'static' || net.kind === 'dhcp')) {
    return {
      action: 'keep-previous',
      reason: `no context; keeping the ${net.kind} network config applied for instance ${previous.id} on ${previous.lastApplied?.at}`,
    };
  }
  if (previous && net) return { action: 'dhcp-fallback', reason: `no context; previous config was ${net.kind}` };
  return { action: 'dhcp-fallback', reason: 'no context and no earlier instance' };
}

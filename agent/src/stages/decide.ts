/**
 * The local stage's one decision, pure: given what was found this boot and what the previous instance
 * left, apply the context, keep the previous configuration, or fall back to DHCP. Everything the shell
 * does afterwards (apply, publish or unpublish the context, write records) follows from the outcome.
 */
import type { Context, ContextFiles } from '../../../lib/context/model.js';
import type { PlannedContext } from '../plan/planner.js';
import type { InstanceRecord } from '../state/instance.js';
import type { SourceStatus } from '../state/status.js';

/** What the local stage got this boot, after reading, parsing, trust checks and planning. */
export type Loaded =
  /** No context CD (or none given). */
  | { kind: 'none'; reason: string }
  /** A context was found but cannot be used: unreadable, invalid, unsigned/untrusted, or its NICs absent. */
  | { kind: 'refused'; source: SourceStatus; reason: string }
  | { kind: 'accepted'; source: SourceStatus; files: ContextFiles; ctx: Context; instanceId: string; planned: PlannedContext; signer?: Signer };

/** Who signed an accepted context (when keys are trusted), and the serial to remember. */
export interface Signer {
  keyId: string;
  serial?: number;
}

export type Outcome =
  | { action: 'apply'; reason: string; planned: PlannedContext; instanceId: string; firstBoot: boolean }
  | { action: 'keep-previous'; reason: string }
  | { action: 'dhcp-fallback'; reason: string };

export function decide(loaded: Loaded, previous: InstanceRecord | undefined): Outcome {
  if (loaded.kind === 'accepted') {
    const firstBoot = previous?.id !== loaded.instanceId;
    return {
      action: 'apply',
      reason: `${firstBoot ? 'new instance' : 'same instance'} ${loaded.instanceId}`,
      planned: loaded.planned,
      instanceId: loaded.instanceId,
      firstBoot,
    };
  }
  const why = loaded.kind === 'none' ? 'no context' : 'context refused';
  // A static config applied for an earlier instance stays: the CD may have been detached after
  // provisioning, and replacing the config with DHCP would cut the VM off (cloud-init#3777).
  const net = previous?.lastApplied?.network;
  if (previous && net && (net.kind === 'static' || net.kind === 'dhcp')) {
    return { action: 'keep-previous', reason: `${why}; keeping the ${net.kind} network config applied for instance ${previous.id} on ${previous.lastApplied?.at}` };
  }
  if (previous && net) return { action: 'dhcp-fallback', reason: `${why}; previous config was ${net.kind}` };
  return { action: 'dhcp-fallback', reason: `${why} and no earlier instance` };
}

import type { ResolvConfState, SystemNic, SystemView } from './network.js';
/**
 * The plan: everything the agent will change, computed before anything is changed.
 * `--dry-run` prints it; apply writes it (atomically, with backups) under a root and runs the commands.
 * All paths are absolute paths inside the target root ("/etc/hostname"), never host paths.
 */
export interface PlannedFile {
  path: string;
  content: string;
  /** File mode, e.g. 0o644. */
  mode: number;
  /** One short line for --dry-run and the log. */
  reason: string;
  /**
   * A secret (private host key, random seed): --dry-run shows its size, never its content, and the
   * file it replaces is not copied to the backups (a backup would be one more copy of a secret).
   */
  secret?: boolean;
  /** How `content` is encoded: 'base64' for binary files (a random seed). Default utf8. */
  encoding?: 'utf8' | 'base64';
  /** Mode of the file's directory when the applier has to create it (default 0755), e.g. 0700 for /root/.ssh. */
  dirMode?: number;
}

/** A file inherited from another machine (its leases, DUID, old host keys): deleted, without a backup. */
export interface PlannedDiscard {
  path: string;
  reason: string;
}

export interface PlannedCommand {
  argv: string[];
  reason: string;
  /**
   * `live`: only when acting on the running system (no --root): e.g. `ip addr add`, `hostname`.
   * Commands are never run into an image root: the host's binaries must not act on an image's files.
   */
  when: 'live';
  /** A failing command stops the apply only when required. */
  required: boolean;
  timeoutMs?: number;
  /**
   * A systemd unit that must already be active for this live command to make sense (e.g. `networkctl
   * reload` needs systemd-networkd.service). The applier checks `systemctl is-active --quiet UNIT` first,
   * never waits, and skips the command with a note when it is not: at boot the service reads the files
   * itself when it starts.
   */
  requiresActive?: string;
}

export interface Plan {
  files: PlannedFile[];
  /** Files the agent owns from an earlier run that the new plan no longer needs. */
  remove: string[];
  commands: PlannedCommand[];
  /** Inherited identity files to delete (a new instance only; never the user's configuration). */
  discard?: PlannedDiscard[];
  /** Non-fatal findings worth a log line (e.g. a route deletion a backend cannot express). */
  notes: Note[];
}

/**
 * A finding of the planner, with its severity: `warn` when something the context or the image asks
 * for is not done as asked (a route skipped, a file left alone, a value dropped); `info` when the plan
 * only says what it chose (a NIC not in the context, the distribution's own DHCP kept). `about` names
 * what it concerns (an in-root path, a NIC, a route) where there is one. Logged at its level; printed
 * in dry runs and goldens.
 */
export interface Note {
  level: 'info' | 'warn';
  text: string;
  about?: string;
}

export const info = (text: string, about?: string): Note => (about === undefined ? { level: 'info', text } : { level: 'info', text, about });
export const warn = (text: string, about?: string): Note => (about === undefined ? { level: 'warn', text } : { level: 'warn', text, about });
/** The texts alone, in order (for messages and comparisons). */
export const noteTexts = (notes: readonly Note[]): string[] => notes.map((n) => n.text);

export function emptyPlan(): Plan {
  return { files: [], remove: [], commands: [], notes: [] };
}

export function mergePlans(...plans: Plan[]): Plan {
  const out = emptyPlan();
  for (const p of plans) {
    out.files.push(...p.files);
    out.remove.push(...p.remove);
    out.commands.push(...p.commands);
    if (p.discard?.length) (out.discard ??= []).push(...p.discard);
    out.notes.push(...p.notes);
  }
  return out;
}

/** Facts about the target system that the pure planner needs (gathered by agent/src/system/facts.ts). */
export interface Facts {
  nics: SystemNic[];
  resolvConf: ResolvConfState;
  currentHosts?: string;
  currentAuthorizedKeys?: string;
  /** Backend files the agent owns that exist now (from an earlier instance), as in-root paths. */
  existingOwned: string[];
  /** Files named like a backend's but without its ownership marker: the user's, never replaced. */
  foreign?: string[];
  /** Read-only view of the target, for the backend's conflict checks (e.g. interfaces.d not sourced). */
  sys?: SystemView;
}

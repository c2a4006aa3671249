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
}

export interface PlannedCommand {
  argv: string[];
  reason: string;
  /**
   * `live`: only when acting on the running system (no --root): e.g. `ip addr add`, `hostname`.
   * `always`: also meaningful inside an image root (rare; run with chroot semantics by the applier).
   */
  when: 'live' | 'always';
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
  /** Non-fatal findings worth a log line (e.g. a route deletion a backend cannot express). */
  notes: string[];
}

export function emptyPlan(): Plan {
  return { files: [], remove: [], commands: [], notes: [] };
}

export function mergePlans(...plans: Plan[]): Plan {
  const out = emptyPlan();
  for (const p of plans) {
    out.files.push(...p.files);
    out.remove.push(...p.remove);
    out.commands.push(...p.commands);
    out.notes.push(...p.notes);
  }
  return out;
}

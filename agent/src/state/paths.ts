/**
 * Where the agent keeps things, as in-root paths ("/run/contextualization", never a host path): every
 * effectful module reads and writes them through a RootFs (lib/fs/root.ts), which maps them into the
 * root ("/" on a live system, an image dir with --root) without following a symlink out of it.
 */
export const RUN_DIR = '/run/contextualization';
export const STATE_DIR = '/var/lib/contextualization';
export const LOG_DIR = '/var/log/contextualization';
export const ETC_DIR = '/etc/contextualization';

export const PATHS = {
  /** Per-boot state (tmpfs): status, lock, copied context, mount points. */
  runDir: RUN_DIR,
  /** The context copied off the CD after the local stage accepted it: what `final` runs from. */
  contextDir: `${RUN_DIR}/context`,
  /** Left by `local` when post-install is due this boot: the final unit's ConditionPathExists. */
  finalPending: `${RUN_DIR}/final-pending`,
  statusFile: `${RUN_DIR}/status.json`,
  lockFile: `${RUN_DIR}/lock`,
  mountDir: `${RUN_DIR}/mnt`,
  /** Persistent state: instance record, post-install copies and markers, backups. */
  stateDir: STATE_DIR,
  instanceFile: `${STATE_DIR}/instance.json`,
  backupDir: `${STATE_DIR}/backup`,
  logDir: LOG_DIR,
  postInstallLog: `${LOG_DIR}/post-install.log`,
  /** Operator switches (disable files, trusted instances, trusted keys). */
  etcDir: ETC_DIR,
  disabledFlag: `${ETC_DIR}/disabled`,
  postInstallDisabled: `${ETC_DIR}/post-install.disabled`,
  trustedInstances: `${ETC_DIR}/trusted-instances`,
} as const;

export type AgentPaths = typeof PATHS;

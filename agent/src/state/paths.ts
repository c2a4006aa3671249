import { join } from 'node:path';

/**
 * Where the agent keeps things, as host paths under a root ("/" on a live system, an image dir with --root).
 * Every effectful module takes an AgentPaths (or builds one from a root) so tests can point it at a temp dir.
 */
export interface AgentPaths {
  root: string;
  /** Per-boot state (tmpfs): status, lock, copied context, mount points. */
  runDir: string;
  /** The context copied off the CD, readable by later stages without the device. */
  contextDir: string;
  statusFile: string;
  lockFile: string;
  /** Persistent state: instance record, post-install copies and markers. */
  stateDir: string;
  instanceFile: string;
  logDir: string;
  /** Operator switches (disable files, trusted instances). */
  etcDir: string;
}

export const RUN_DIR = '/run/contextualization';
export const STATE_DIR = '/var/lib/contextualization';
export const LOG_DIR = '/var/log/contextualization';
export const ETC_DIR = '/etc/contextualization';

/** Join an absolute in-root path onto a root: inRoot('/img', '/etc/x') -> '/img/etc/x'. */
export function inRoot(root: string, path: string): string {
  return root === '/' ? path : join(root, path);
}

export function agentPaths(root = '/'): AgentPaths {
  const runDir = inRoot(root, RUN_DIR);
  const stateDir = inRoot(root, STATE_DIR);
  return {
    root,
    runDir,
    contextDir: join(runDir, 'context'),
    statusFile: join(runDir, 'status.json'),
    lockFile: join(runDir, 'lock'),
    stateDir,
    instanceFile: join(stateDir, 'instance.json'),
    logDir: inRoot(root, LOG_DIR),
    etcDir: inRoot(root, ETC_DIR),
  };
}

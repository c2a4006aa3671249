/**
 * A throw-away "live system" for the agent: a private mount and network namespace whose root is a temp
 * tree (chroot), with the host's /usr bind-mounted read-only (bash, coreutils, the dynamic loader) and
 * its own /etc, /run, /var, /tmp. Inside it the agent runs as on a booted VM (root "/", post-install
 * really runs as uid 0), but nothing it does reaches the host: not its files (chroot), not its network
 * (an empty netns). Needs root and unshare(1); callers skip with requireOrSkip otherwise.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, tmp, type RunResult } from './fake-roots.js';

export const SANDBOX_BIN = '/opt/contextualization';

export function canSandbox(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--mount', '--net', '--fork', 'true']).status === 0;
}

/** A root tree with the merged-/usr links and the dirs a Debian system has. */
export function makeSandboxRoot(): string {
  const r = tmp('sandbox-');
  for (const d of ['usr', 'etc', 'run', 'var/lib', 'var/log', 'tmp', 'proc', 'dev', 'root', 'opt', 'ctx']) mkdirSync(join(r, d), { recursive: true });
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) symlinkSync(`usr/${l}`, join(r, l));
  writeFileSync(join(r, 'dev/null'), '');
  writeFileSync(join(r, 'etc/hosts'), '127.0.0.1\tlocalhost\n');
  copyFileSync(BIN, join(r, SANDBOX_BIN.slice(1)));
  return r;
}

/** Run the agent inside the sandbox rooted at `root` with these arguments. */
export function runInSandbox(root: string, args: string[], timeoutMs = 60_000): RunResult {
  // The setup script is the test's own (fixed text; the arguments go through "$@", never through the shell).
  const setup = [
    'set -e',
    'mount --make-rprivate /',
    'mount --bind /usr "$R/usr"',
    'mount -o remount,bind,ro "$R/usr"',
    'mount --bind /dev/null "$R/dev/null"',
    'mount -t proc proc "$R/proc"',
    'exec chroot "$R" "$@"',
  ].join('\n');
  const r = spawnSync('unshare', ['--mount', '--net', '--fork', 'sh', '-c', setup, 'sandbox', SANDBOX_BIN, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { R: root, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

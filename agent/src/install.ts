import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { isSea } from 'node:sea';
import { runProgram } from './system/exec.js';
import type { Logger } from 'pino';
import { RootFs } from '../../lib/fs/index.js';
import { formatPublicKey, parsePublicKey } from '../../lib/signing/keys.js';
import { TRUSTED_KEYS_DIR } from './trust/signature.js';
import { FINAL_UNIT, FINAL_UNIT_NAME, LOCAL_UNIT, LOCAL_UNIT_NAME, RC_LOCAL_LINE, SYSV_INIT_SCRIPT } from './state/units.js';

/**
 * `contextualization install`: put the agent into a system (live, or an image root) and hook it into boot.
 *
 * systemd enablement is done the way `systemctl enable` does it, by symlinks, so it works in an image
 * root without a running systemd:
 * - final -> multi-user.target.wants (its [Install] section);
 * - local -> sysinit.target.wants. Not network-pre.target.wants: network-pre.target is a passive target
 *   that nothing pulls in unless a unit wants it, and our own unit is what wants it (systemd.special(7)).
 *   sysinit.target is pulled in on every boot (rescue too); the unit's own Before=network-pre.target and
 *   Before=NetworkManager/networkd/networking order it, DefaultDependencies=no keeps it out of the
 *   basic.target ordering that causes cycles (firewalld#414).
 */

export const BINARY_PATH = '/usr/local/bin/contextualization';

export type InitSystem = 'systemd' | 'sysv' | 'rc.local';

export interface InstallOptions {
  root: string;
  /** The binary to install; default: this process's executable when it is the single binary (SEA). */
  binaryPath?: string;
  initSystem: InitSystem | 'auto';
  /** Replace existing files that differ from ours. */
  force?: boolean;
  /** Public keys (files on the host) whose signatures the image will require (signed contexts). */
  trustKeys?: string[];
  logger?: Logger;
}

export interface InstallAction {
  /** Path in the root (e.g. /etc/systemd/system/contextualization-local.service). */
  path: string;
  action: 'created' | 'updated' | 'unchanged' | 'linked' | 'appended' | 'enabled' | 'note';
  detail?: string;
}

export interface InstallResult {
  initSystem: InitSystem;
  actions: InstallAction[];
  changed: boolean;
}

export class InstallError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InstallError';
  }
}

export async function installAgent(opts: InstallOptions): Promise<InstallResult> {
  // Every target goes through the in-root layer: a symlinked /etc/systemd/system or /usr/local/bin in
  // an image resolves inside the image, never to the host's.
  const fs = new RootFs(opts.root);
  const binary = opts.binaryPath ?? runningSingleBinary();
  if (!existsSync(binary) || !statSync(binary).isFile()) throw new InstallError(`binary ${binary}: not a file`);
  const initSystem = opts.initSystem === 'auto' ? detectInitSystem(fs) : opts.initSystem;
  const force = opts.force ?? false;

  // Decide everything first: with a conflict and no --force, nothing is changed at all.
  const { files, links } = installTargets(initSystem);
  // A key that does not parse is refused before anything is written (an image that pins a broken key trusts nothing).
  for (const file of opts.trustKeys ?? []) {
    let text: Buffer;
    try {
      text = readFileSync(file);
    } catch (e) {
      throw new InstallError(`--trust-key ${file}: cannot read it: ${(e as Error).message}`, { cause: e });
    }
    const key = parsePublicKey(text, file);
    files.push({ path: `${TRUSTED_KEYS_DIR}/${key.keyId}.pub`, content: `${formatPublicKey(key).trimEnd()}\n`, mode: 0o644 });
  }
  const conflicts = [
    ...files.filter((f) => differs(fs, f.path, f.content)).map((f) => `${fs.host(f.path)} exists with other content`),
    ...links.filter((l) => linkConflict(fs, l.path, l.target)).map((l) => `${fs.host(l.path)} exists and is not a link to ${l.target}`),
  ];
  if (conflicts.length > 0 && !force) {
    throw new InstallError(`refusing to overwrite (use --force): ${conflicts.join('; ')}`);
  }

  const actions: InstallAction[] = [];
  actions.push(installBinary(fs, binary, BINARY_PATH));
  for (const f of files) actions.push(writeOwned(fs, f.path, f.content, f.mode));
  for (const l of links) actions.push(makeLink(fs, l.path, l.target));
  if (initSystem === 'sysv') actions.push(await enableSysv(fs));
  if (initSystem === 'rc.local') actions.push(addRcLocalLine(fs));

  const changed = actions.some((a) => a.action !== 'unchanged' && a.action !== 'note');
  for (const a of actions) opts.logger?.info({ path: a.path, action: a.action, detail: a.detail }, `install: ${a.action} ${a.path}`);
  return { initSystem, actions, changed };
}

/** Every file and link `install` writes for an init system (besides the binary and rc.local). */
export function installTargets(initSystem: InitSystem): { files: { path: string; content: string; mode: number }[]; links: { path: string; target: string }[] } {
  const files: { path: string; content: string; mode: number }[] = [];
  const links: { path: string; target: string }[] = [];
  if (initSystem === 'systemd') {
    files.push({ path: `/etc/systemd/system/${LOCAL_UNIT_NAME}`, content: LOCAL_UNIT, mode: 0o644 });
    files.push({ path: `/etc/systemd/system/${FINAL_UNIT_NAME}`, content: FINAL_UNIT, mode: 0o644 });
    links.push({ path: `/etc/systemd/system/sysinit.target.wants/${LOCAL_UNIT_NAME}`, target: `/etc/systemd/system/${LOCAL_UNIT_NAME}` });
    links.push({ path: `/etc/systemd/system/multi-user.target.wants/${FINAL_UNIT_NAME}`, target: `/etc/systemd/system/${FINAL_UNIT_NAME}` });
  } else if (initSystem === 'sysv') {
    files.push({ path: '/etc/init.d/contextualization', content: SYSV_INIT_SCRIPT, mode: 0o755 });
  }
  return { files, links };
}

/**
 * The single executable when running as one (SEA); under plain node, process.execPath is node itself.
 * node:sea is imported statically: a real dynamic import() has no loader in a binary started from a
 * startup snapshot (test/core/architecture.test.ts keeps the bundle free of them).
 */
function runningSingleBinary(): string {
  if (isSea()) return process.execPath;
  throw new InstallError('not running as the single binary: pass the path of the contextualization binary to install');
}

/** Which init system boots the root: what /sbin/init is, else what is installed. */
export function detectInitSystem(fs: RootFs): InitSystem {
  if (fs.isLive && existsSync('/run/systemd/system')) return 'systemd';
  const hasInitD = fs.kind('/etc/init.d') !== 'absent';
  for (const p of ['/sbin/init', '/usr/sbin/init']) {
    const kind = fs.kind(p);
    if (kind === 'symlink') return fs.readlink(p)!.includes('systemd') ? 'systemd' : hasInitD ? 'sysv' : 'rc.local';
    if (kind === 'file') return hasInitD ? 'sysv' : 'rc.local';
  }
  if (['/lib/systemd/systemd', '/usr/lib/systemd/systemd'].some((p) => fs.resolve(p) !== undefined)) return 'systemd';
  return hasInitD ? 'sysv' : 'rc.local';
}

/** An existing entry that is not our content: a file with other bytes, or anything that is not a file. */
function differs(fs: RootFs, path: string, content: string): boolean {
  const kind = fs.kind(path);
  if (kind === 'absent') return false;
  if (kind !== 'file') return true;
  return fs.readFile(path)!.toString('utf8') !== content;
}

function linkConflict(fs: RootFs, path: string, target: string): boolean {
  const kind = fs.kind(path);
  return kind !== 'absent' && (kind !== 'symlink' || fs.readlink(path) !== target);
}

function writeOwned(fs: RootFs, path: string, content: string, mode: number): InstallAction {
  const kind = fs.kind(path);
  if (kind === 'file' && !differs(fs, path, content)) {
    if (((fs.lstat(path)?.mode ?? 0) & 0o777) !== mode) fs.writeFileAtomic(path, content, mode);
    return { path, action: 'unchanged' };
  }
  fs.writeFileAtomic(path, content, mode);
  return { path, action: kind !== 'absent' ? 'updated' : 'created' };
}

function makeLink(fs: RootFs, path: string, target: string): InstallAction {
  if (fs.kind(path) === 'symlink' && fs.readlink(path) === target) return { path, action: 'unchanged', detail: `-> ${target}` };
  fs.symlink(target, path); // only reached for a conflicting entry under --force; a directory there is refused
  return { path, action: 'linked', detail: `-> ${target}` };
}

/** Copy the binary atomically (temp file beside it, fsync, 0755, rename); skip when identical. */
function installBinary(fs: RootFs, src: string, path: string): InstallAction {
  const kind = fs.kind(path);
  if (kind === 'file' && sameContent(src, fs.host(path))) {
    if (((fs.lstat(path)?.mode ?? 0) & 0o777) !== 0o755) fs.writeFileAtomic(path, readFileSync(src), 0o755);
    return { path, action: 'unchanged' };
  }
  // rename, not overwrite-in-place: a running copy of the old binary keeps its inode (no ETXTBSY).
  fs.writeFileAtomic(path, readFileSync(src), 0o755);
  return { path, action: kind !== 'absent' ? 'updated' : 'created', detail: `from ${src}` };
}

function sameContent(a: string, b: string): boolean {
  const sa = statSync(a);
  const sb = statSync(b);
  if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
  if (sa.size !== sb.size) return false;
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  try {
    const ba = Buffer.alloc(1 << 20);
    const bb = Buffer.alloc(1 << 20);
    for (let pos = 0; pos < sa.size; ) {
      const na = readSync(fa, ba, 0, ba.length, pos);
      const nb = readSync(fb, bb, 0, bb.length, pos);
      if (na !== nb || na === 0 || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      pos += na;
    }
    return true;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/**
 * Register the init script. On a live system, the distribution's tool computes the sequence numbers
 * (hand-made rcS.d links could run before local filesystems are mounted). In an image root we do not
 * run the image's tools; the action says what to run inside it.
 */
async function enableSysv(fs: RootFs): Promise<InstallAction> {
  const path = '/etc/init.d/contextualization';
  const tools: [string, string[]][] = [
    ['/usr/sbin/update-rc.d', ['contextualization', 'defaults']],
    ['/sbin/insserv', ['contextualization']],
    ['/sbin/chkconfig', ['--add', 'contextualization']],
  ];
  const tool = tools.find(([t]) => fs.resolve(t) !== undefined);
  if (!tool) return { path, action: 'note', detail: 'no update-rc.d, insserv or chkconfig found: link it into rcS.d by hand' };
  const cmd = `${basename(tool[0])} ${tool[1].join(' ')}`;
  if (!fs.isLive) return { path, action: 'note', detail: `not enabled (image root): run \`${cmd}\` inside the image` };
  const r = await runProgram(tool[0], tool[1], { reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) throw new InstallError(`${cmd} failed: ${String(r.stderr || r.shortMessage || `exit ${r.exitCode}`).trim()}`);
  return { path, action: 'enabled', detail: cmd };
}

/** Add the classic line to /etc/rc.local once, before its final `exit 0`; create the file if missing. */
function addRcLocalLine(fs: RootFs): InstallAction {
  const path = '/etc/rc.local';
  const kind = fs.kind(path);
  if (kind === 'absent') {
    fs.writeFileAtomic(path, `#!/bin/sh -e\n# rc.local: run at the end of each multiuser runlevel.\n\n${RC_LOCAL_LINE}\n\nexit 0\n`, 0o755);
    return { path, action: 'created' };
  }
  if (kind !== 'file') throw new InstallError(`${fs.host(path)}: a ${kind === 'symlink' ? 'symbolic link' : kind} where rc.local is expected; edit it by hand or use --init systemd`);
  const text = fs.readFile(path)!.toString('utf8');
  const lines = text.split('\n');
  const mode = (fs.lstat(path)?.mode ?? 0o755) & 0o7777;
  if (lines.some((l) => l.trim() === RC_LOCAL_LINE)) {
    // rc.local only runs when executable (systemd's rc-local generator checks too).
    if ((mode & 0o111) === 0) fs.writeFileAtomic(path, text, mode | 0o755);
    return { path, action: 'unchanged' };
  }
  let exitAt = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^\s*exit\s+0\s*$/.test(lines[i] as string)) {
      exitAt = i;
      break;
    }
  }
  if (exitAt >= 0) lines.splice(exitAt, 0, RC_LOCAL_LINE);
  else {
    if (lines[lines.length - 1] === '') lines.pop();
    lines.push(RC_LOCAL_LINE, '');
  }
  fs.writeFileAtomic(path, lines.join('\n'), mode | 0o755);
  return { path, action: 'appended', detail: RC_LOCAL_LINE };
}

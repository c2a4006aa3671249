import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { CONTEXTGEN_BIN } from './images.js';

/**
 * Context ISOs for the scenarios. Good contexts come from the real host tool (`contextgen iso`);
 * the deliberately broken one is packed with genisoimage, since contextgen rightly refuses to
 * write a context it finds invalid, and a hand-made Snooze ISO is exactly what the agent must survive.
 */

/** Appends one line per run, so a test can count how often the agent ran it (it lives on the disk). */
export const POST_INSTALL_SCRIPT = `#!/bin/bash
set -eu
echo "run $(date -u +%s) $(hostname)" >> /var/tmp/post-install-count
`;

export function writePostInstall(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'post-install.sh');
  writeFileSync(path, POST_INSTALL_SCRIPT);
  chmodSync(path, 0o755);
  return path;
}

export interface StaticContext {
  hostname: string;
  mac: string;
  /** e.g. 10.0.2.17/24 (must be in QEMU's 10.0.2.0/24 so user networking still works). */
  address: string;
  gateway: string;
  dns: string;
  /** Search domains (--search, in order). */
  search?: string[];
  instanceId: string;
  postInstall: string;
}

/** `contextgen iso` with the flags an operator would type. */
export async function contextgenIso(out: string, c: StaticContext): Promise<string> {
  await execa(CONTEXTGEN_BIN, [
    'iso', '-o', out, '--force',
    '--hostname', c.hostname,
    '--nic', `${c.mac}=${c.address}`,
    '--gateway', c.gateway,
    '--dns', c.dns,
    ...(c.search ?? []).flatMap((d) => ['--search', d]),
    '--instance-id', c.instanceId,
    '--post-install', c.postInstall,
  ]);
  return out;
}

/** `contextgen iso --from DIR`: a Snooze context directory (only common/network + post-install). */
export async function contextgenFromDir(out: string, dir: string): Promise<string> {
  await execa(CONTEXTGEN_BIN, ['iso', '-o', out, '--force', '--from', dir]);
  return out;
}

/** Writes a Snooze context directory: common/network lines and an optional post-install. */
export function snoozeDir(dir: string, networkLines: string[], postInstall?: string): string {
  mkdirSync(join(dir, 'common'), { recursive: true });
  writeFileSync(join(dir, 'common', 'network'), networkLines.join('\n') + '\n');
  if (postInstall !== undefined) {
    writeFileSync(join(dir, 'post-install'), postInstall);
    chmodSync(join(dir, 'post-install'), 0o755);
  }
  return dir;
}

/** A Snooze ISO as Snooze itself made them (genisoimage -R -J, label CONTEXT), bypassing contextgen's checks. */
export async function genisoimageIso(out: string, dir: string): Promise<string> {
  await execa('genisoimage', ['-quiet', '-R', '-J', '-V', 'CONTEXT', '-o', out, dir]);
  return out;
}

/**
 * A Snooze ISO with zisofs-compressed files (mkzftree, then genisoimage -z): the agent's built-in
 * reader refuses zisofs, so the agent must read this CD through the guest kernel's mount.
 */
export async function zisofsIso(out: string, dir: string): Promise<string> {
  // mkzftree stores files that do not shrink as they are: pad post-install with a compressible comment.
  writeFileSync(join(dir, 'post-install'), `${POST_INSTALL_SCRIPT}${'# padding that compresses well\n'.repeat(3000)}`);
  chmodSync(join(dir, 'post-install'), 0o755);
  const packed = `${dir}.zisofs`;
  await execa('mkzftree', [dir, packed]);
  await execa('genisoimage', ['-quiet', '-R', '-J', '-z', '-V', 'CONTEXT', '-o', out, packed]);
  return out;
}

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { AGENT_BIN, CONTEXTGEN_BIN } from './images.js';

/**
 * What the VM suite needs on the host. In CI a missing piece is a failure (the suite must prove
 * the agent boots, not quietly skip); locally VM_TESTS=0 skips it with a loud message.
 * `npm test` runs scripts/setup.sh first, which installs the Debian tools.
 */

const TOOLS = ['qemu-system-x86_64', 'qemu-img', 'debootstrap', 'mkfs.ext4', 'genisoimage', 'chroot', 'flock'];

function onPath(tool: string): boolean {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => {
    try {
      accessSync(join(d, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Every missing prerequisite, one readable line each; empty when the suite can run. */
export function missingPrerequisites(): string[] {
  const missing = TOOLS.filter((t) => !onPath(t)).map((t) => `${t} not found (scripts/setup.sh installs it)`);
  if (process.getuid?.() !== 0) missing.push('not root: debootstrap and chroot need root');
  for (const bin of [AGENT_BIN, CONTEXTGEN_BIN]) {
    try {
      if (statSync(bin).size === 0) missing.push(`${bin} is empty (run npm run build)`);
    } catch {
      missing.push(`${bin} missing (run npm run build)`);
    }
  }
  return missing;
}

export type Gate = { run: true } | { run: false; reason: string };

/** VM_TESTS=0 skips locally; in CI (CI=true) nothing skips the suite. */
export function vmGate(): Gate {
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  if (process.env.VM_TESTS === '0' && !ci) {
    return { run: false, reason: 'VM_TESTS=0: the VM boot suite is SKIPPED. Nothing proves the agent boots a real guest.' };
  }
  return { run: true };
}

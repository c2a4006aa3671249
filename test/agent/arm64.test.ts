/**
 * The arm64 agent binary, run under qemu-user (user-mode emulation with Debian's aarch64 libc): this
 * machine is x86_64, so emulation is the only way to run it here. It must plan the same files as x86_64.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeIso } from '../../lib/iso9660/index.js';

const DIST = join(import.meta.dirname, '../../dist');

describe('arm64 single binary', () => {
  it('runs under qemu-aarch64 and prints the same plan as the x86_64 binary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arm64-'));
    const iso = join(dir, 'c.iso');
    writeFileSync(iso, writeIso([
      { path: 'common/network', data: Buffer.from('GATEWAY=192.168.122.1\nNETWORK=192.168.122.0\nNETMASK=255.255.255.0\nNAMESERVER=192.168.122.1\n') },
    ]));
    const args = ['local', '--dry-run', '--iso', iso, '--root', dir, '--backend', 'networkd', '--nic', 'ens3=00:16:c0:a8:7a:11'];
    const arm = spawnSync('qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', join(DIST, 'contextualization-arm64'), ...args], { encoding: 'utf8', timeout: 120_000 });
    const x64 = spawnSync(join(DIST, 'contextualization'), args, { encoding: 'utf8' });
    expect(arm.error).toBeUndefined();
    expect(arm.status).toBe(0);
    expect(arm.stdout).toMatch(/Address=192\.168\.122\.17\/24/);
    expect(arm.stdout).toBe(x64.stdout);
  }, 180_000);
});

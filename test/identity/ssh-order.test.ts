/**
 * sshd must start after the local stage has written a new instance's host keys, or it serves the base
 * image's keys until its next restart. The units say so, and systemd-analyze, given our unit and
 * Debian's real ssh.service in one root, finds no ordering cycle. The VM suite
 * (test/vm/signed-identity.test.ts) proves it on a booted guest: `systemctl show -P After ssh.service`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_UNIT, SYSV_INIT_SCRIPT } from '../../agent/src/state/units.js';

const SSH_UNIT = '/usr/lib/systemd/system/ssh.service';
const HAVE_ANALYZE = spawnSync('systemd-analyze', ['--version']).status === 0;
const HAVE_SSH_UNIT = existsSync(SSH_UNIT);
if (!HAVE_ANALYZE || !HAVE_SSH_UNIT) console.warn('SKIPPED: systemd-analyze or openssh-server\'s ssh.service missing on this host: the ordering was NOT checked by systemd');

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** Every unit named on the [Unit] section's Before= lines. */
const beforeOf = (unit: string): string[] => [...unit.matchAll(/^Before=(.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));

describe('the local stage runs before sshd', () => {
  it('is ordered before every name OpenSSH\'s unit goes by (Debian ssh.service and ssh.socket, sshd.service elsewhere)', () => {
    expect(beforeOf(LOCAL_UNIT)).toEqual(expect.arrayContaining(['ssh.service', 'ssh.socket', 'sshd.service']));
    // sysvinit: insserv orders by the facilities Debian's /etc/init.d/ssh provides ("ssh sshd").
    expect(/^# X-Start-Before:\s+(.*)$/m.exec(SYSV_INIT_SCRIPT)?.[1]?.split(/\s+/)).toEqual(expect.arrayContaining(['ssh', 'sshd']));
  });

  it.skipIf(!HAVE_ANALYZE || !HAVE_SSH_UNIT)('systemd-analyze verify accepts it beside the real ssh.service (no ordering cycle)', () => {
    const root = mkdtempSync(join(tmpdir(), 'ssh-order-'));
    dirs.push(root);
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    writeFileSync(join(root, 'etc/systemd/system/contextualization-local.service'), LOCAL_UNIT);
    // The units' programs must exist for verify; their content does not matter to the ordering.
    for (const bin of ['usr/local/bin/contextualization', 'usr/sbin/sshd']) {
      mkdirSync(join(root, bin, '..'), { recursive: true });
      writeFileSync(join(root, bin), '#!/bin/sh\n', { mode: 0o755 });
    }
    // verify loads the units named and what they pull in; an ordering cycle would be reported on stderr.
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`,
      join(root, 'etc/systemd/system/contextualization-local.service'), join(root, 'usr/lib/systemd/system/ssh.service')], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/cycle/i);
    expect(r.status, r.stderr).toBe(0);
    // ssh.service itself still starts after the network (our ordering adds to it, it does not replace it).
    expect(readFileSync(SSH_UNIT, 'utf8')).toMatch(/^After=network\.target/m);
  });
});

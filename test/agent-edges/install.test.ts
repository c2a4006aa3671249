import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RootFs } from '../../lib/fs/index.js';
import { afterAll, describe, expect, it } from 'vitest';
import { InstallError, detectInitSystem, installAgent } from '../../agent/src/install.js';
import { KILL_GRACE_MS, MAX_POST_INSTALL_TIMEOUT_SEC } from '../../agent/src/steps/post-install.js';
import { FINAL_UNIT, LOCAL_UNIT, RC_LOCAL_LINE, SYSV_INIT_SCRIPT } from '../../agent/src/state/units.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

afterAll(cleanupTempDirs);

const repo = join(import.meta.dirname, '../..');
const systemdDir = join(repo, 'systemd');

function fakeBinary(content = '#!/bin/sh\necho contextualization\n'): string {
  const p = join(tempDir('bin-'), 'contextualization');
  writeFileSync(p, content);
  return p;
}

function links(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d)) {
      const abs = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out[r] = readlinkSync(abs);
      else if (st.isDirectory()) walk(abs, r);
    }
  };
  walk(dir, '');
  return out;
}

const hasTool = (t: string) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0;
const HAVE_ANALYZE = hasTool('systemd-analyze');
const HAVE_SYSTEMCTL = hasTool('systemctl');
if (!HAVE_ANALYZE) console.warn('SKIPPED: systemd-analyze is not installed (apt package systemd): the unit files were NOT verified');
if (!HAVE_SYSTEMCTL) console.warn('SKIPPED: systemctl is not installed: enablement links were NOT compared with systemctl enable');

describe('embedded unit files', () => {
  it('are byte-identical to systemd/*', () => {
    expect(readFileSync(join(systemdDir, 'contextualization-local.service'), 'utf8')).toBe(LOCAL_UNIT);
    expect(readFileSync(join(systemdDir, 'contextualization-final.service'), 'utf8')).toBe(FINAL_UNIT);
    expect(readFileSync(join(systemdDir, 'contextualization.init'), 'utf8')).toBe(SYSV_INIT_SCRIPT);
    expect(readFileSync(join(systemdDir, 'rc.local.snippet'), 'utf8')).toBe(`${RC_LOCAL_LINE}\n`);
  });

  it('order the local stage before any network service and keep every start bounded', () => {
    const lines = (u: string) => u.split('\n');
    for (const l of [
      'DefaultDependencies=no',
      'Wants=network-pre.target',
      'Before=network-pre.target',
      'After=local-fs.target systemd-udevd.service systemd-remount-fs.service',
      'Before=NetworkManager.service systemd-networkd.service networking.service network.service',
      'Conflicts=shutdown.target',
      'ConditionPathExists=!/etc/contextualization/disabled',
      'ConditionKernelCommandLine=!contextualization=disabled',
      'Type=oneshot',
      'RemainAfterExit=yes',
      'TimeoutStartSec=180',
      'StandardOutput=journal+console',
      'ExecStart=/usr/local/bin/contextualization local',
    ]) {
      expect(lines(LOCAL_UNIT)).toContain(l);
    }
    for (const l of [
      'After=network-online.target contextualization-local.service',
      'Wants=network-online.target',
      'ExecStart=/usr/local/bin/contextualization final',
      'KillMode=process',
    ]) {
      expect(lines(FINAL_UNIT)).toContain(l);
    }
    // The agent's own post-install limit, its kill grace and the 30 s lock wait fit in systemd's limit.
    const finalTimeout = Number(/^TimeoutStartSec=(\d+)$/m.exec(FINAL_UNIT)?.[1]);
    expect(finalTimeout).toBeGreaterThan(MAX_POST_INSTALL_TIMEOUT_SEC + KILL_GRACE_MS / 1000 + 30);
    expect(FINAL_UNIT).not.toMatch(/TimeoutStartSec=(0|infinity)\b/);
  });

  it.skipIf(!HAVE_ANALYZE)('pass systemd-analyze verify once installed into a root (no warnings, no ordering cycle)', async () => {
    const root = tempDir('verify-root-');
    // The stock units the verifier resolves our dependencies against (sysinit.target, network-pre.target...).
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    await installAgent({ root, binaryPath: fakeBinary(), initSystem: 'systemd' });
    const r = spawnSync(
      'systemd-analyze',
      ['verify', '--man=no', `--root=${root}`, ...['contextualization-local.service', 'contextualization-final.service'].map((u) => join(root, 'etc/systemd/system', u))],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!HAVE_SYSTEMCTL)('are enabled by exactly the links `systemctl enable` makes', async () => {
    const ours = tempDir('enable-ours-');
    await installAgent({ root: ours, binaryPath: fakeBinary(), initSystem: 'systemd' });
    const theirs = tempDir('enable-systemctl-');
    mkdirSync(join(theirs, 'etc/systemd/system'), { recursive: true });
    writeFileSync(join(theirs, 'etc/systemd/system/contextualization-local.service'), LOCAL_UNIT);
    writeFileSync(join(theirs, 'etc/systemd/system/contextualization-final.service'), FINAL_UNIT);
    execFileSync('systemctl', [`--root=${theirs}`, 'enable', 'contextualization-local.service', 'contextualization-final.service'], { stdio: 'ignore' });
    expect(links(join(ours, 'etc'))).toEqual(links(join(theirs, 'etc')));
    expect(links(join(ours, 'etc'))).toEqual({
      'systemd/system/sysinit.target.wants/contextualization-local.service': '/etc/systemd/system/contextualization-local.service',
      'systemd/system/multi-user.target.wants/contextualization-final.service': '/etc/systemd/system/contextualization-final.service',
    });
  });

  it('the sysv init script runs local, then final in the background once the network is up', async () => {
    const dir = tempDir('sysv-');
    const calls = join(dir, 'calls');
    const daemon = join(dir, 'contextualization');
    writeFileSync(daemon, `#!/bin/sh\necho "$1" >> ${calls}\n`);
    chmodSync(daemon, 0o755);
    // Same script with the binary, the wait and the log dir pointed into the temp dir.
    const script = SYSV_INIT_SCRIPT.replace('DAEMON=/usr/local/bin/contextualization', `DAEMON=${daemon}`)
      .replace('NET_WAIT=120', 'NET_WAIT=1')
      .replaceAll('/var/log/contextualization', join(dir, 'log'));
    expect(script).not.toBe(SYSV_INIT_SCRIPT);
    writeFileSync(join(dir, 'init'), script);
    expect(spawnSync('sh', ['-n', join(dir, 'init')]).status).toBe(0);
    const r = spawnSync('sh', [join(dir, 'init'), 'start'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(0);
    expect(readFileSync(calls, 'utf8')).toBe('local\n');
    for (let i = 0; i < 40 && readFileSync(calls, 'utf8') === 'local\n'; i++) await sleep(100);
    expect(readFileSync(calls, 'utf8')).toBe('local\nfinal\n');
    expect(spawnSync('sh', [join(dir, 'init'), 'bogus']).status).toBe(3);
  });
});

describe('installAgent', () => {
  it('installs the binary and the units into a root and enables them; a second run changes nothing', async () => {
    const root = tempDir('install-root-');
    const bin = fakeBinary();
    const r = await installAgent({ root, binaryPath: bin, initSystem: 'systemd' });
    expect(r.initSystem).toBe('systemd');
    expect(r.changed).toBe(true);
    expect(r.actions.map((a) => [a.path, a.action])).toEqual([
      ['/usr/local/bin/contextualization', 'created'],
      ['/etc/systemd/system/contextualization-local.service', 'created'],
      ['/etc/systemd/system/contextualization-final.service', 'created'],
      ['/etc/systemd/system/sysinit.target.wants/contextualization-local.service', 'linked'],
      ['/etc/systemd/system/multi-user.target.wants/contextualization-final.service', 'linked'],
    ]);
    const installed = join(root, 'usr/local/bin/contextualization');
    expect(readFileSync(installed, 'utf8')).toBe(readFileSync(bin, 'utf8'));
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(root, 'etc/systemd/system/contextualization-local.service'), 'utf8')).toBe(LOCAL_UNIT);
    expect(statSync(join(root, 'etc/systemd/system/contextualization-final.service')).mode & 0o777).toBe(0o644);
    expect(readdirSync(join(root, 'usr/local/bin'))).toEqual(['contextualization']); // no temp file left

    const again = await installAgent({ root, binaryPath: bin, initSystem: 'systemd' });
    expect(again.changed).toBe(false);
    expect(again.actions.every((a) => a.action === 'unchanged')).toBe(true);
  });

  it('replaces an older binary atomically', async () => {
    const root = tempDir('install-root-');
    await installAgent({ root, binaryPath: fakeBinary('old\n'), initSystem: 'rc.local' });
    const r = await installAgent({ root, binaryPath: fakeBinary('new\n'), initSystem: 'rc.local' });
    expect(r.actions[0]).toMatchObject({ path: '/usr/local/bin/contextualization', action: 'updated' });
    expect(readFileSync(join(root, 'usr/local/bin/contextualization'), 'utf8')).toBe('new\n');
  });

  it('never overwrites a different unit without force, and changes nothing at all then', async () => {
    const root = tempDir('install-root-');
    await installAgent({ root, binaryPath: fakeBinary('v1\n'), initSystem: 'systemd' });
    const unit = join(root, 'etc/systemd/system/contextualization-final.service');
    writeFileSync(unit, '[Service]\nExecStart=/bin/true # local edit\n');
    await expect(installAgent({ root, binaryPath: fakeBinary('v2\n'), initSystem: 'systemd' })).rejects.toThrow(
      new InstallError(`refusing to overwrite (use --force): ${root}/etc/systemd/system/contextualization-final.service exists with other content`),
    );
    expect(readFileSync(join(root, 'usr/local/bin/contextualization'), 'utf8')).toBe('v1\n');
    const forced = await installAgent({ root, binaryPath: fakeBinary('v2\n'), initSystem: 'systemd', force: true });
    expect(forced.actions.find((a) => a.path.endsWith('final.service'))?.action).toBe('updated');
    expect(readFileSync(unit, 'utf8')).toBe(FINAL_UNIT);
  });

  it('refuses to replace a foreign enablement link without force', async () => {
    const root = tempDir('install-root-');
    const wants = join(root, 'etc/systemd/system/sysinit.target.wants');
    mkdirSync(wants, { recursive: true });
    symlinkSync('/lib/systemd/system/something-else.service', join(wants, 'contextualization-local.service'));
    await expect(installAgent({ root, binaryPath: fakeBinary(), initSystem: 'systemd' })).rejects.toThrow(/sysinit\.target\.wants\/contextualization-local\.service exists and is not a link/);
  });

  it('installs the sysv init script (enabling is left to the image tools under a root)', async () => {
    const root = tempDir('install-root-');
    const r = await installAgent({ root, binaryPath: fakeBinary(), initSystem: 'sysv' });
    const script = join(root, 'etc/init.d/contextualization');
    expect(readFileSync(script, 'utf8')).toBe(SYSV_INIT_SCRIPT);
    expect(statSync(script).mode & 0o777).toBe(0o755);
    expect(r.actions.at(-1)).toEqual({
      path: '/etc/init.d/contextualization',
      action: 'note',
      detail: 'no update-rc.d, insserv or chkconfig found: link it into rcS.d by hand',
    });
    mkdirSync(join(root, 'usr/sbin'), { recursive: true });
    writeFileSync(join(root, 'usr/sbin/update-rc.d'), '');
    const again = await installAgent({ root, binaryPath: fakeBinary(), initSystem: 'sysv' });
    expect(again.actions.at(-1)?.detail).toBe('not enabled (image root): run `update-rc.d contextualization defaults` inside the image');
  });

  it('adds the rc.local line once, before exit 0, keeping the file executable', async () => {
    const root = tempDir('install-root-');
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/rc.local'), '#!/bin/sh -e\n/usr/bin/mine\nexit 0\n', { mode: 0o644 });
    const r = await installAgent({ root, binaryPath: fakeBinary(), initSystem: 'rc.local' });
    expect(r.actions.at(-1)).toMatchObject({ path: '/etc/rc.local', action: 'appended' });
    expect(readFileSync(join(root, 'etc/rc.local'), 'utf8')).toBe(`#!/bin/sh -e\n/usr/bin/mine\n${RC_LOCAL_LINE}\nexit 0\n`);
    expect(statSync(join(root, 'etc/rc.local')).mode & 0o111).not.toBe(0);
    const again = await installAgent({ root, binaryPath: fakeBinary(), initSystem: 'rc.local' });
    expect(again.actions.at(-1)?.action).toBe('unchanged');
    expect(readFileSync(join(root, 'etc/rc.local'), 'utf8').split(RC_LOCAL_LINE)).toHaveLength(2);
  });

  it('creates rc.local when there is none', async () => {
    const root = tempDir('install-root-');
    await installAgent({ root, binaryPath: fakeBinary(), initSystem: 'rc.local' });
    const text = readFileSync(join(root, 'etc/rc.local'), 'utf8');
    expect(text).toMatch(new RegExp(`^#!/bin/sh -e\\n[^]*\\n${RC_LOCAL_LINE}\\n\\nexit 0\\n$`));
    expect(statSync(join(root, 'etc/rc.local')).mode & 0o777).toBe(0o755);
  });

  it('detects the init system of a root', () => {
    const sd = tempDir('detect-');
    mkdirSync(join(sd, 'sbin'), { recursive: true });
    symlinkSync('/lib/systemd/systemd', join(sd, 'sbin/init'));
    expect(detectInitSystem(new RootFs(sd))).toBe('systemd');

    const sysv = tempDir('detect-');
    mkdirSync(join(sysv, 'sbin'), { recursive: true });
    mkdirSync(join(sysv, 'etc/init.d'), { recursive: true });
    writeFileSync(join(sysv, 'sbin/init'), '');
    expect(detectInitSystem(new RootFs(sysv))).toBe('sysv');

    expect(detectInitSystem(new RootFs(tempDir('detect-')))).toBe('rc.local');
    expect(existsSync(join(sd, 'etc'))).toBe(false); // detection writes nothing
  });

  it('without a binary path, refuses when not running as the single binary', async () => {
    await expect(installAgent({ root: tempDir('install-root-'), initSystem: 'systemd' })).rejects.toThrow(
      'not running as the single binary: pass the path of the contextualization binary to install',
    );
  });
});

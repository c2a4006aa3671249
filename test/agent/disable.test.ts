/**
 * `contextualization disable` / `enable` through the real binary on image roots laid out as Debian's
 * installer leaves them: disable hands the network back (the distribution's files restored byte for
 * byte, the agent's own network files gone, the switch set), --dry-run changes nothing, --keep-network
 * only sets the switch, enable removes it and the next run applies the context again.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEBIAN_INSTALLER_INTERFACES } from '../network/distro-fixtures.js';
import { EXTENDED, MAC0, isoOf, newRoot, put, runBin, snapshot, tmp } from '../support/fake-roots.js';

const NIC = ['--nic', `eth0=${MAC0}`];
const FLAG = 'etc/contextualization/disabled';

/** A Debian root as the installer leaves it: its DHCP stanza for eth0 in /etc/network/interfaces. */
function installerRoot(): string {
  const r = newRoot('ifupdown');
  put(r, '/etc/network/interfaces', DEBIAN_INSTALLER_INTERFACES);
  mkdirSync(join(r, 'etc/network/interfaces.d'), { recursive: true });
  return r;
}

const ours = (r: string): string[] => readdirSync(join(r, 'etc/network/interfaces.d')).filter((n) => n.includes('contextualization'));

function applied(r: string): void {
  const a = runBin(['local', '--root', r, ...NIC, '--iso', isoOf(EXTENDED)]);
  expect(a.code, a.stderr).toBe(0);
  expect(ours(r).length).toBeGreaterThan(0);
  expect(readFileSync(join(r, 'etc/network/interfaces'), 'utf8')).not.toBe(DEBIAN_INSTALLER_INTERFACES);
}

describe('contextualization disable / enable', () => {
  it('disable restores the installer\'s interfaces byte for byte, removes ours, sets the switch; local then does nothing', () => {
    const r = installerRoot();
    applied(r);
    const d = runBin(['disable', '--root', r, ...NIC]);
    expect(d.code, d.stderr).toBe(0);
    expect(readFileSync(join(r, 'etc/network/interfaces'), 'utf8')).toBe(DEBIAN_INSTALLER_INTERFACES);
    expect(ours(r)).toEqual([]);
    expect(readFileSync(join(r, FLAG), 'utf8')).toMatch(/^disabled by `contextualization disable` on .*restored/);
    expect(existsSync(join(r, 'run/contextualization/context'))).toBe(false);
    expect(d.stdout).toMatch(/contextualization disable: ok/);
    // What the context left that is the machine's own state now stays.
    expect(readFileSync(join(r, 'etc/hostname'), 'utf8')).toBe('web01\n');

    const before = snapshot(r);
    const l = runBin(['local', '--root', r, ...NIC, '--iso', isoOf(EXTENDED)]);
    expect(l.code).toBe(0);
    expect(l.stdout).toMatch(/disabled \(.*disabled exists\); nothing done/);
    expect(snapshot(r)).toEqual(before);
  });

  it('--dry-run prints the restore and the removals and changes nothing', () => {
    const r = installerRoot();
    applied(r);
    const before = snapshot(r);
    const d = runBin(['disable', '--dry-run', '--root', r, ...NIC]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain('=== write /etc/network/interfaces');
    expect(d.stdout).toMatch(/=== remove \/etc\/network\/interfaces\.d\/50-contextualization/);
    expect(d.stdout).toContain(`would write ${join(r, FLAG)}`);
    expect(snapshot(r)).toEqual(before);
  });

  it('--keep-network only sets the switch', () => {
    const r = installerRoot();
    applied(r);
    const interfaces = readFileSync(join(r, 'etc/network/interfaces'), 'utf8');
    const files = ours(r);
    expect(runBin(['disable', '--keep-network', '--root', r, ...NIC]).code).toBe(0);
    expect(readFileSync(join(r, 'etc/network/interfaces'), 'utf8')).toBe(interfaces);
    expect(ours(r)).toEqual(files);
    expect(readFileSync(join(r, FLAG), 'utf8')).toContain('kept');
  });

  it('enable removes the switch and the next run applies the context again', () => {
    const r = installerRoot();
    applied(r);
    expect(runBin(['disable', '--root', r, ...NIC]).code).toBe(0);
    const e = runBin(['enable', '--root', r]);
    expect(e.code, e.stderr).toBe(0);
    expect(existsSync(join(r, FLAG))).toBe(false);
    applied(r);
    // Enabling twice is not an error: it says there was nothing to do.
    const again = runBin(['enable', '--root', r]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/enable: ok/);
  });

  it('a NIC the distribution does not configure is named: it would have no configuration from the next boot on', () => {
    const r = newRoot('ifupdown'); // the project's minimal layout: no stanza for eth0
    const a = runBin(['local', '--root', r, ...NIC, '--iso', isoOf(EXTENDED)]);
    expect(a.code, a.stderr).toBe(0);
    const d = runBin(['disable', '--root', r, ...NIC]);
    expect(d.code).toBe(0);
    expect(`${d.stdout}\n${d.stderr}`).toMatch(/eth0 \(52:54:00:12:34:56\): the distribution's own ifupdown configuration does not bring it up/);
  });

  it('switch paths planted as links out of the root are replaced or removed, never followed', () => {
    const outside = tmp('ctx-outside-');
    const victim = join(outside, 'victim');
    writeFileSync(victim, 'precious\n');
    const r = installerRoot();
    mkdirSync(join(r, 'etc/contextualization'), { recursive: true });
    symlinkSync(victim, join(r, FLAG));
    // The link already counts as "disabled"; enable removes the link itself.
    expect(runBin(['enable', '--root', r]).code).toBe(0);
    expect(existsSync(join(r, FLAG))).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    symlinkSync(victim, join(r, FLAG));
    expect(runBin(['disable', '--root', r, ...NIC]).code).toBe(0);
    expect(lstatSync(join(r, FLAG)).isFile()).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('networkd with a catch-all DHCP file and NetworkManager\'s auto-default: every edit undone, every drop-in of ours gone', () => {
    for (const kind of ['networkd', 'networkmanager'] as const) {
      const r = newRoot(kind);
      if (kind === 'networkd') put(r, '/etc/systemd/network/05-wired.network', '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n');
      // Debian's network-manager package ships conf.d (empty): the directory is the package's, not ours.
      else mkdirSync(join(r, 'etc/NetworkManager/conf.d'), { recursive: true });
      const tree = (): Record<string, string> => Object.fromEntries(Object.entries(snapshot(r)).filter(([p]) => /^\/etc\/(systemd\/network|NetworkManager|network)\//.test(p)));
      const before = tree();
      const a = runBin(['local', '--root', r, ...NIC, '--iso', isoOf(EXTENDED)]);
      expect(a.code, a.stderr).toBe(0);
      expect(tree(), `${kind}: local changed nothing`).not.toEqual(before);
      const d = runBin(['disable', '--root', r, ...NIC]);
      expect(d.code, d.stderr).toBe(0);
      expect(tree(), `${kind}: disable left something`).toEqual(before);
    }
  });
});

/**
 * The real agent binary (dist/contextualization) applying fixture contexts to fake image roots.
 * Roots are plain directories laid out like a distro's /etc (what the agent detects backends from);
 * nothing is mocked except that NICs are declared with --nic because a temp dir has no /sys.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAC0, ROOTS, SNOOZE_MAC, isoOf, put, runBin, snapshot, tmp, type Files } from '../support/fake-roots.js';

const BIN = join(import.meta.dirname, '../../dist/contextualization');

// This suite's own fixtures: the expectations below are about exactly these files.
const SNOOZE: Files = {
  'common/network': 'GATEWAY=192.168.122.1\nNETWORK=192.168.122.0\nBROADCAST=192.168.122.255\nNETMASK=255.255.255.0\nNAMESERVER=192.168.122.1\nDOMAIN=example.org\nSEARCH=example.org\n',
  'common/routes': 'up route add -net 10.20.0.0 netmask 255.255.0.0 gw 192.168.122.254 dev eth0\n',
  'post-install': '#!/bin/bash\necho hello > /tmp/snooze-marker\n',
};

const EXTENDED: Files = {
  'common/network': 'NAMESERVER="10.0.0.53 10.0.0.54"\nSEARCH=lab.example\n',
  'common/context.ini': `[context]\nversion = 1\ninstance_id = test-42\nhostname = web01.lab.example\n\n[nic "${MAC0}"]\nmethod = static\naddress = 10.0.0.17/24\ngateway = 10.0.0.1\nipv6 = 2001:db8::17/64\n`,
  'common/authorized_keys': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmVmvHxQb7rHj6l0h0l1Vx8t2nQ2wX9Yk1xg7c5Q0Zz admin@host\n',
};

function newRoot(kind: string): string {
  const r = tmp(`root-${kind}-`);
  ROOTS[kind]!(r);
  put(r, '/etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\tbase-image\n');
  put(r, '/etc/hostname', 'base-image\n');
  put(r, '/etc/resolv.conf', 'nameserver 10.9.9.9\n');
  return r;
}

const run = runBin;

const read = (root: string, p: string) => readFileSync(join(root, p), 'utf8');

const EXPECTED_FILE: Record<string, (nic: string) => string> = {
  ifupdown: () => '/etc/network/interfaces.d/50-contextualization',
  networkd: (n) => `/etc/systemd/network/10-contextualization-${n}.network`,
  networkmanager: (n) => `/etc/NetworkManager/system-connections/contextualization-${n}.nmconnection`,
  netplan: () => '/etc/netplan/60-contextualization.yaml',
  ifcfg: (n) => `/etc/sysconfig/network-scripts/ifcfg-${n}`,
};

describe('agent binary on fake roots, every backend detected from the root', () => {
  for (const kind of Object.keys(ROOTS)) {
    it(`${kind}: Snooze context, address from the MAC, eth0 in routes mapped to ens3`, () => {
      const root = newRoot(kind);
      const r = run(['local', '--iso', isoOf(SNOOZE), '--root', root, '--nic', `ens3=${SNOOZE_MAC}`]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/route device eth0 does not exist here; 10\.20\.0\.0\/16 via 192\.168\.122\.254 dev eth0 goes to ens3/);
      expect(r.stdout).toMatch(/contextualization local: ok/);
      // ifcfg keeps routes in route-<nic> beside ifcfg-<nic>.
      const cfg = read(root, EXPECTED_FILE[kind]!('ens3')) + (kind === 'ifcfg' ? read(root, '/etc/sysconfig/network-scripts/route-ens3') : '');
      expect(cfg).toMatch(/192\.168\.122\.17/);
      expect(cfg).toMatch(/10\.20\.0\.0/);
      expect(cfg).not.toMatch(/eth0/);
      const status = JSON.parse(read(root, '/run/contextualization/status.json'));
      expect(status.result).toBe('ok');
      expect(status.stages[0].steps.map((s: { name: string }) => s.name)).toEqual(['find-context', 'parse', 'plan', 'apply', 'identity']);
      expect(status.stages[0].steps[2].message).toContain(kind);
    });

    it(`${kind}: extended context: hostname, hosts, DNS, keys, IPv6`, () => {
      const root = newRoot(kind);
      const r = run(['local', '--iso', isoOf(EXTENDED), '--root', root, '--nic', `eth0=${MAC0}`, '--nic', 'eth1=52:54:00:00:00:99']);
      expect(r.code).toBe(0);
      const cfg = read(root, EXPECTED_FILE[kind]!('eth0'));
      expect(cfg).toMatch(/10\.0\.0\.17/);
      expect(cfg).toMatch(/2001:db8::17/);
      expect(read(root, '/etc/hostname')).toBe('web01\n');
      expect(read(root, '/etc/hosts')).toMatch(/^10\.0\.0\.17\tweb01\.lab\.example web01\t# contextualization$/m);
      expect(read(root, '/etc/hosts')).not.toMatch(/base-image/);
      expect(read(root, '/root/.ssh/authorized_keys')).toContain('admin@host');
      expect(statSync(join(root, 'root/.ssh/authorized_keys')).mode & 0o777).toBe(0o600);
      // Plain resolv.conf is rewritten only where no daemon owns DNS; the original is kept as a backup.
      if (kind === 'ifupdown' || kind === 'ifcfg') {
        expect(read(root, '/etc/resolv.conf')).toMatch(/nameserver 10\.0\.0\.53\nnameserver 10\.0\.0\.54/);
        expect(read(root, '/var/lib/contextualization/backup/etc/resolv.conf.orig')).toBe('nameserver 10.9.9.9\n');
      }
      expect(existsSync(join(root, EXPECTED_FILE[kind]!('eth1')))).toBe(kind === 'ifupdown' || kind === 'netplan');
    });
  }

  it('is idempotent: a second run changes nothing and keeps the pristine backup', () => {
    const root = newRoot('ifupdown');
    const iso = isoOf(EXTENDED);
    expect(run(['local', '--iso', iso, '--root', root, '--nic', `eth0=${MAC0}`]).code).toBe(0);
    const before = snapshot(root);
    expect(run(['local', '--iso', iso, '--root', root, '--nic', `eth0=${MAC0}`]).code).toBe(0);
    const after = snapshot(root);
    delete before['/run/contextualization/status.json'];
    delete after['/run/contextualization/status.json'];
    delete before['/var/lib/contextualization/instance.json'];
    delete after['/var/lib/contextualization/instance.json'];
    expect(after).toEqual(before);
    expect(read(root, '/var/lib/contextualization/backup/etc/hosts.orig')).toContain('base-image');
  });

  it('a new instance removes the stale files of the previous one, never the user\'s', () => {
    const root = newRoot('networkd');
    put(root, '/etc/systemd/network/99-user.network', '[Match]\nName=eth9\n');
    expect(run(['local', '--iso', isoOf(EXTENDED), '--root', root, '--nic', `eth0=${MAC0}`]).code).toBe(0);
    expect(existsSync(join(root, EXPECTED_FILE.networkd!('eth0')))).toBe(true);
    expect(run(['local', '--iso', isoOf(SNOOZE), '--root', root, '--nic', `ens3=${SNOOZE_MAC}`]).code).toBe(0);
    expect(existsSync(join(root, EXPECTED_FILE.networkd!('eth0')))).toBe(false);
    expect(existsSync(join(root, EXPECTED_FILE.networkd!('ens3')))).toBe(true);
    expect(read(root, '/etc/systemd/network/99-user.network')).toContain('eth9');
  });

  it("ifcfg: the user's own ifcfg file for a NIC the context configures is taken over reversibly, and restored byte for byte", () => {
    const root = newRoot('ifcfg');
    const user = 'DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\n';
    put(root, '/etc/sysconfig/network-scripts/ifcfg-eth0', user);
    put(root, '/etc/sysconfig/network-scripts/ifcfg-lo', 'DEVICE=lo\n');
    const r = run(['local', '--iso', isoOf(EXTENDED), '--root', root, '--nic', `eth0=${MAC0}`]);
    expect(r.code).toBe(0);
    const taken = read(root, '/etc/sysconfig/network-scripts/ifcfg-eth0');
    expect(taken).toMatch(/IPADDR="10\.0\.0\.17"/);
    expect(taken).toContain('#[contextualization disabled] BOOTPROTO=dhcp\n'); // the original, kept in the file
    expect(read(root, '/var/lib/contextualization/backup/etc/sysconfig/network-scripts/ifcfg-eth0.orig')).toBe(user);
    // A later instance on another NIC: the user's file comes back as it was.
    expect(run(['local', '--iso', isoOf(SNOOZE), '--root', root, '--nic', `ens3=${SNOOZE_MAC}`]).code).toBe(0);
    expect(read(root, '/etc/sysconfig/network-scripts/ifcfg-eth0')).toBe(user);
    expect(read(root, '/etc/sysconfig/network-scripts/ifcfg-lo')).toBe('DEVICE=lo\n');
    expect(read(root, '/etc/sysconfig/network-scripts/ifcfg-ens3')).toMatch(/192\.168\.122\.17/);
  });

  it('--dry-run prints every file with its contents and changes nothing', () => {
    const root = newRoot('ifupdown');
    const before = snapshot(root);
    const r = run(['local', '--dry-run', '--iso', isoOf(EXTENDED), '--root', root, '--nic', `eth0=${MAC0}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/=== write \/etc\/network\/interfaces\.d\/50-contextualization \(mode 0644\)/);
    expect(r.stdout).toMatch(/address 10\.0\.0\.17\/24/);
    expect(r.stdout).toMatch(/=== write \/etc\/hostname/);
    expect(snapshot(root)).toEqual(before);
  });

  it('no context: DHCP on the first NIC with carrier through the detected backend', () => {
    const root = newRoot('networkd');
    const r = run(['local', '--root', root, '--device', '/dev/nonexistent', '--timeout', '0', '--nic', `ens3=${MAC0}`]);
    expect(r.code).toBe(0);
    expect(read(root, EXPECTED_FILE.networkd!('ens3'))).toMatch(/DHCP=(ipv4|yes)/);
    const status = JSON.parse(read(root, '/run/contextualization/status.json'));
    expect(status.stages[0].steps.find((s: { name: string }) => s.name === 'dhcp-fallback').result).toBe('ok');
  });

  it('no context after a static instance: the static configuration is kept', () => {
    const root = newRoot('ifupdown');
    expect(run(['local', '--iso', isoOf(EXTENDED), '--root', root, '--nic', `eth0=${MAC0}`]).code).toBe(0);
    const cfg = read(root, EXPECTED_FILE.ifupdown!('eth0'));
    const r = run(['local', '--root', root, '--device', '/dev/nonexistent', '--timeout', '0', '--nic', `eth0=${MAC0}`]);
    expect(r.code).toBe(0);
    expect(read(root, EXPECTED_FILE.ifupdown!('eth0'))).toBe(cfg);
    expect(r.stdout).toMatch(/network skipped/);
  });

  it('status and --version work; usage errors exit 2', () => {
    const root = newRoot('ifupdown');
    run(['local', '--iso', isoOf(EXTENDED), '--root', root, '--nic', `eth0=${MAC0}`]);
    const s = run(['status', '--root', root, '--json']);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout).instanceId).toBe('test-42');
    expect(run(['status', '--root', root]).stdout).toMatch(/instance: test-42/);
    expect(run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(run(['local', '--backend', 'bogus']).code).toBe(2);
  });
});

describe('hostile contexts: clear error, root byte-for-byte unchanged', () => {
  const cases: [string, Files, RegExp][] = [
    ['command substitution in a value', { 'common/network': 'GATEWAY=$(reboot)\nNETWORK=10.0.0.0\nNETMASK=255.255.255.0\n' }, /common\/network: .*GATEWAY/],
    ['backticks', { 'common/network': 'NAMESERVER=`id`\n' }, /common\/network: .*NAMESERVER/],
    ['newline smuggled through a quoted value', { 'common/network': 'DOMAIN="a\nnameserver 6.6.6.6"\n' }, /common\/network/],
    ['gateway outside the subnet', { 'common/network': 'GATEWAY=10.9.9.9\nNETWORK=192.168.122.0\nNETMASK=255.255.255.0\n' }, /GATEWAY.*10\.9\.9\.9/],
    ['non-contiguous netmask', { 'common/network': 'NETWORK=192.168.122.0\nNETMASK=255.0.255.0\n' }, /NETMASK/],
    ['hostname with a shell metacharacter', { 'common/context.ini': '[context]\nhostname = web;reboot\n' }, /hostname/],
    ['route line with an injected option', { 'common/network': 'NETWORK=10.0.0.0\nNETMASK=255.255.255.0\n', 'common/routes': 'up route add -net 10.1.0.0 netmask 255.255.0.0 gw 10.0.0.1 dev eth0; rm -rf /\n' }, /common\/routes/],
    ['unknown key', { 'common/network': 'GATEWAY_TYPO=10.0.0.1\n' }, /GATEWAY_TYPO/],
    ['NUL byte', { 'common/network': 'DOMAIN=a\u0000b\n' }, /common\/network/],
    ['huge value', { 'common/network': `DOMAIN=${'a'.repeat(100_000)}\n` }, /common\/network/],
  ];
  for (const [name, files, err] of cases) {
    it(name, () => {
      const root = newRoot('ifupdown');
      const before = snapshot(root);
      const r = run(['local', '--iso', isoOf(files), '--root', root, '--nic', `eth0=${MAC0}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(err);
      for (const line of r.stderr.trim().split('\n')) expect(line.length).toBeLessThan(400);
      expect(snapshot(root)).toEqual(before);
    });
  }

  it('a symlinked /etc in the image pointing outside the root is refused', () => {
    const root = tmp('root-evil-');
    const outside = tmp('outside-');
    symlinkSync(outside, join(root, 'etc'));
    const r = run(['local', '--iso', isoOf(EXTENDED), '--root', root, '--backend', 'ifupdown', '--nic', `eth0=${MAC0}`]);
    expect(r.code).not.toBe(0);
    expect(readdirSync(outside)).toEqual([]);
  });
});

describe('binary properties', () => {
  it('is one self-contained file that ignores NODE_OPTIONS', () => {
    const out = execFileSync(BIN, ['--version'], { env: { NODE_OPTIONS: '--require /nonexistent.js' }, encoding: 'utf8' });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(statSync(BIN).mode & 0o111).toBeTruthy();
    chmodSync(BIN, 0o755);
  });

  // The x64 binary starts from a startup snapshot built by running the boot path's modules once
  // (agent/src/snapshot.ts): what those captured at build time must not leak into a run.
  it('reads the environment, arguments and streams of each run, not of the build', () => {
    // The shipped example context on a bare root (the `ip` backend): the run logs info and warnings.
    const argv = ['local', '--dry-run', '--dir', join(import.meta.dirname, '../../context-template'), '--root', tmp('root-'), '--nic', 'eth0=52:54:00:12:34:56'];
    const env = { PATH: process.env.PATH };
    const piped = spawnSync(BIN, argv, { env, encoding: 'utf8' });
    // JOURNAL_STREAM (set by systemd for a unit) switches the log to plain lines with a priority prefix.
    const journal = spawnSync(BIN, argv, { env: { ...env, JOURNAL_STREAM: '8:12345' }, encoding: 'utf8' });
    const quiet = spawnSync(BIN, [...argv, '--log-level', 'error'], { env, encoding: 'utf8' });
    for (const r of [piped, journal, quiet]) expect(r.status).toBe(0);
    const lines = (t: string) => t.trim().split('\n').filter(Boolean);
    expect(lines(piped.stderr).length).toBeGreaterThan(0);
    expect(lines(piped.stderr).every((l) => l.startsWith('{"level":'))).toBe(true);
    expect(lines(journal.stderr).length).toBe(lines(piped.stderr).length);
    expect(lines(journal.stderr).every((l) => /^<[0-7]>/.test(l))).toBe(true);
    expect(quiet.stderr).toBe('');
    // The plan goes to this run's stdout (a pipe here), the same whatever the log looks like.
    expect(piped.stdout).toContain('=== write /etc/resolv.conf');
    expect(journal.stdout).toBe(piped.stdout);
    expect(quiet.stdout).toBe(piped.stdout);
  });

  it('the snapshot entry refuses to run outside a snapshot build (it would apply `boot` to the machine evaluating it)', () => {
    const root = tmp('root-');
    // --root/--dry-run: even if the refusal regressed, nothing outside a temp dir could change.
    const r = spawnSync('npx', ['tsx', 'agent/src/snapshot.ts', 'boot', '--dry-run', '--root', root], { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('agent/src/snapshot.ts is only the entry of a startup snapshot build');
    expect(r.stdout).toBe('');
    expect(readdirSync(root)).toEqual([]);
  });
});

/**
 * Injection attempts into every context field, through the parser (every payload x every field) and
 * through the real agent binary with every backend (one run per field, payloads and backends rotated):
 * each is refused with a one-line error per problem naming the file, exit 1, and the root byte-for-byte
 * unchanged. The host tool `contextgen iso` refuses the same values and writes nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContextError, parseContext } from '../../lib/context/index.js';
import { MAC0, REPO, isoOf, newRoot, runBin, snapshot, tmp, type Files } from '../support/fake-roots.js';

const PAYLOADS: [string, string][] = [
  ['newline', 'a\nnameserver 6.6.6.6'],
  ['carriage return', 'a\rb'],
  ['semicolon', 'a;reboot'],
  ['command substitution', '$(id)'],
  ['backticks', '`id`'],
  ['pipe', 'a|b'],
  ['ampersand', 'a&b'],
  ['single quote', "a'b"],
  ['double quote', 'a"b'],
  ['option -o', '-o'],
  ['option --foo', '--foo'],
  ['path traversal', '../../etc/shadow'],
  ['dot-dot', '..'],
  ['overlong', 'x'.repeat(300)],
  ['RTL override', 'web\u202eexe'],
  ['homoglyph (Cyrillic e)', 'w\u0435b01'],
  ['full-width digits', '\uff11\uff10.0.0.1'],
  ['zero-width space', 'we\u200bb'],
  ['NUL', 'a\u0000b'],
];

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIHmVmvHxQb7rHj6l0h0l1Vx8t2nQ2wX9Yk1xg7c5Q0Zz';
const BASE_NET = 'NETWORK=10.0.0.0\nNETMASK=255.255.255.0\n';
const nic = (body: string, name = MAC0) => ({ 'common/context.ini': `[context]\nversion = 1\n\n[nic "${name}"]\n${body}\n` });

/** Each field: where the payload lands and the file the error must name. */
const FIELDS: [string, string, (p: string) => Files][] = [
  ...['GATEWAY', 'NETWORK', 'NETMASK', 'BROADCAST', 'NAMESERVER', 'DOMAIN', 'SEARCH'].map((k): [string, string, (p: string) => Files] =>
    [`common/network ${k}`, 'common/network', (p) => ({ 'common/network': `${k === 'NETWORK' || k === 'NETMASK' ? '' : BASE_NET}${k}=${p}\n` })]),
  ['common/routes destination', 'common/routes', (p) => ({ 'common/network': BASE_NET, 'common/routes': `up route add -net ${p} netmask 255.255.0.0 gw 10.0.0.1 dev eth0\n` })],
  ['common/routes gateway', 'common/routes', (p) => ({ 'common/network': BASE_NET, 'common/routes': `up route add -net 10.1.0.0 netmask 255.255.0.0 gw ${p} dev eth0\n` })],
  ['common/routes device', 'common/routes', (p) => ({ 'common/network': BASE_NET, 'common/routes': `up route add -net 10.1.0.0 netmask 255.255.0.0 gw 10.0.0.1 dev ${p}\n` })],
  ...['version', 'instance_id', 'hostname', 'post_install', 'post_install_timeout'].map((k): [string, string, (p: string) => Files] =>
    [`context.ini [context] ${k}`, 'common/context.ini', (p) => ({ 'common/context.ini': `[context]\n${k} = ${p}\n`, 'post-install': '#!/bin/bash\ntrue\n' })]),
  ['context.ini NIC section name', 'common/context.ini', (p) => nic('method = dhcp', p)],
  ...['method', 'address', 'gateway', 'ipv6', 'mtu'].map((k): [string, string, (p: string) => Files] =>
    [`context.ini nic ${k}`, 'common/context.ini', (p) => nic(`method = static\naddress = 10.0.0.17/24\n${k} = ${p}`)]),
  ...['nameservers', 'search', 'domain'].map((k): [string, string, (p: string) => Files] =>
    [`context.ini [dns] ${k}`, 'common/context.ini', (p) => ({ 'common/context.ini': `[context]\nversion = 1\n[dns]\n${k} = ${p}\n` })]),
  ['authorized_keys type', 'common/authorized_keys', (p) => ({ 'common/authorized_keys': `${p} ${KEY} c\n` })],
  ['authorized_keys data', 'common/authorized_keys', (p) => ({ 'common/authorized_keys': `ssh-ed25519 ${p} c\n` })],
  ['authorized_keys option', 'common/authorized_keys', (p) => ({ 'common/authorized_keys': `command="${p}" ssh-ed25519 ${KEY} c\n` })],
];

const asFiles = (f: Files) => new Map(Object.entries(f).map(([k, v]) => [k, Buffer.from(v)]));

describe('injection: every payload into every field is refused by the parser', () => {
  for (const [field, file, make] of FIELDS) {
    it(field, () => {
      const accepted: string[] = [];
      for (const [name, p] of PAYLOADS) {
        try {
          parseContext(asFiles(make(p)));
          accepted.push(name);
        } catch (e) {
          if (!(e instanceof ContextError)) throw new Error(`${field} <- ${name}: threw ${String(e)}`);
          expect(e.problems.some((q) => q.file === file), `${field} <- ${name}: ${e.message}`).toBe(true);
          for (const line of e.message.split('\n')) {
            expect(line.length).toBeLessThan(600);
            expect(line).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u202e\u200b]/);
          }
        }
      }
      expect(accepted, `${field}: payloads accepted`).toEqual([]);
    });
  }
});

describe('injection through the agent binary, every backend: exit 1, one-line errors, root unchanged', () => {
  const BACKENDS = ['ifupdown', 'networkd', 'networkmanager', 'netplan', 'ifcfg', 'ip'] as const;
  FIELDS.forEach(([field, file, make], i) => {
    const backend = BACKENDS[i % BACKENDS.length]!;
    const [pname, payload] = PAYLOADS[(i * 7) % PAYLOADS.length]!;
    it(`${field} <- ${pname} (--backend ${backend})`, () => {
      const root = newRoot(backend === 'ip' ? 'ifupdown' : backend);
      const before = snapshot(root);
      const r = runBin(['local', '--iso', isoOf(make(payload)), '--root', root, '--backend', backend, '--nic', `eth0=${MAC0}`]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(file);
      for (const line of r.stderr.trim().split('\n')) {
        expect(line.length).toBeLessThan(700);
        expect(line).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u202e\u200b]/);
      }
      expect(snapshot(root)).toEqual(before);
    });
  });

  it('an instance id of ".." (path traversal into the state dir) is refused', () => {
    const root = newRoot('networkd');
    const before = snapshot(root);
    const r = runBin(['local', '--iso', isoOf({ 'common/context.ini': '[context]\ninstance_id = ..\n' }), '--root', root, '--nic', `eth0=${MAC0}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/instance_id/);
    expect(snapshot(root)).toEqual(before);
  });

  it('--nic with a traversal or option-like name is a usage error', () => {
    for (const spec of ['../../x=52:54:00:12:34:56', '-o=52:54:00:12:34:56', 'eth0;id=52:54:00:12:34:56']) {
      const root = newRoot('ifupdown');
      const before = snapshot(root);
      const r = runBin(['local', '--iso', isoOf({ 'common/network': 'NAMESERVER=10.0.0.1\n' }), '--root', root, '--nic', spec]);
      expect(r.code, spec).not.toBe(0);
      expect(r.stderr).toMatch(/--nic/);
      expect(snapshot(root)).toEqual(before);
    }
  });
});

describe('host tools refuse hostile values and write nothing', () => {
  const cases: [string, string[]][] = [
    ['hostname with ;', ['--hostname', 'a;b']],
    ['hostname with newline', ['--hostname', 'a\nb']],
    ['homoglyph hostname', ['--hostname', 'w\u0435b01']],
    ['option-like instance id', ['--instance-id', '--foo']],
    ['traversal instance id', ['--instance-id', '../../etc/shadow']],
    ['full-width address', ['--nic', `${MAC0}=\uff11\uff10.0.0.17/24`]],
    ['DNS with $()', ['--dns', '$(reboot)']],
    ['route with ;', ['--route', '10.1.0.0/16 via 10.0.0.1; rm -rf /']],
  ];
  it('contextgen iso (npx tsx host-tools/src/cli.ts)', () => {
    execFileSync('npx', ['tsx', '--version'], { cwd: REPO, stdio: 'ignore' });
    for (const [name, flags] of cases) {
      const dir = tmp('hard-gen-');
      const out = join(dir, 'ctx.iso');
      const r = spawnSync('npx', ['tsx', 'host-tools/src/cli.ts', 'iso', '-o', out, ...flags], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, `${name}: ${r.stderr}`).not.toBe(0);
      expect(r.status, name).not.toBe(null);
      expect(existsSync(out), name).toBe(false);
      expect(readdirSync(dir), name).toEqual([]);
      const lines = r.stderr.trim().split('\n').filter((l) => !/^npm warn/.test(l));
      expect(lines.length, `${name}: ${r.stderr}`).toBeGreaterThan(0);
      for (const l of lines) expect(l).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    }
  }, 120_000);
});

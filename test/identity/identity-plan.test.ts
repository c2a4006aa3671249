/**
 * planIdentity over bookworm roots, then the plan applied for real (applyPlan into the root) and the
 * result checked with the real tools: ssh-keygen reads the new keys and prints the fingerprints the
 * plan reported; two clones of one image get different ids and keys; nothing secret is printed or
 * backed up; the user's and the DHCP server's files stay.
 */
import { RootFs } from '../../lib/fs/index.js';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../../agent/src/apply/apply.js';
import { formatPlan } from '../../agent/src/plan/planner.js';
import { newMachineId, planIdentity, RANDOM_SEED_BYTES, type IdentityPlan } from '../../agent/src/steps/identity.js';
import { gatherIdentityFacts, rootView, type IdentityFacts, type IdentityOptOuts } from '../../agent/src/system/identity-facts.js';
import { BASE_MACHINE_ID, bookworm, cleanup, link, put, seededRandom, tmp, type Stack } from './fixtures.js';
import { noteTexts } from '../../agent/src/types/plan.js';

afterAll(cleanup);

const logger = pino({ level: 'silent' });
const facts = (root: string): IdentityFacts => gatherIdentityFacts(rootView(new RootFs(root)));
const plan = (root: string, optOuts: IdentityOptOuts = {}, seed = 1, hostname?: string): IdentityPlan =>
  planIdentity(facts(root), optOuts, seededRandom(seed), hostname ? { hostname } : {});
const apply = (root: string, p: IdentityPlan) => applyPlan(p.plan, { fs: new RootFs(root), live: false, logger });
const read = (root: string, p: string) => readFileSync(join(root, p), 'utf8');
const mode = (root: string, p: string) => lstatSync(join(root, p)).mode & 0o7777;

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((n) => join(dir, n)).filter((p) => lstatSync(p).isFile());
}

describe('a clone of a bookworm image becomes a new machine', () => {
  for (const stack of ['ifupdown', 'networkd', 'networkmanager'] as Stack[]) {
    it(`${stack}: new machine-id, host keys, DHCP identity and seed, applied and read back by the real tools`, async () => {
      const root = bookworm(stack);
      const oldSeed = readFileSync(join(root, 'var/lib/systemd/random-seed'));
      const p = plan(root, {}, 7, 'web01');

      expect(p.machineId).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
      expect(p.hostKeys.map((k) => k.type)).toEqual(['ed25519', 'ecdsa', 'rsa']);
      const r = await apply(root, p);

      expect(read(root, '/etc/machine-id')).toBe(`${p.machineId}\n`);
      expect(mode(root, '/etc/machine-id')).toBe(0o444);
      // D-Bus reads /etc/machine-id through its link: still a link, so the same id.
      expect(lstatSync(join(root, 'var/lib/dbus/machine-id')).isSymbolicLink()).toBe(true);

      for (const k of p.hostKeys) {
        const priv = join(root, `etc/ssh/ssh_host_${k.type}_key`);
        expect(mode(root, `/etc/ssh/ssh_host_${k.type}_key`)).toBe(0o600);
        expect(mode(root, `/etc/ssh/ssh_host_${k.type}_key.pub`)).toBe(0o644);
        const printed = execFileSync('ssh-keygen', ['-l', '-f', priv], { encoding: 'utf8' }).split(' ');
        expect(printed[1]).toBe(k.fingerprint);
        expect(printed[2]).toBe('root@web01');
        const derived = execFileSync('ssh-keygen', ['-y', '-f', priv], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' ');
        expect(read(root, `/etc/ssh/ssh_host_${k.type}_key.pub`).startsWith(`${derived} `)).toBe(true);
      }
      const base = execFileSync('ssh-keygen', ['-l', '-f', join(bookworm(stack), 'etc/ssh/ssh_host_ed25519_key')], { encoding: 'utf8' }).split(' ')[1];
      expect(p.hostKeys[0]!.fingerprint).not.toBe(base);

      const seed = readFileSync(join(root, 'var/lib/systemd/random-seed'));
      expect(seed.length).toBe(RANDOM_SEED_BYTES);
      expect(seed.equals(oldSeed)).toBe(false);
      expect(mode(root, '/var/lib/systemd/random-seed')).toBe(0o600);

      if (stack === 'ifupdown') {
        expect(existsSync(join(root, 'var/lib/dhcp/dhclient.enp1s0.leases'))).toBe(false);
        expect(existsSync(join(root, 'var/lib/dhcp/dhclient6.enp1s0.leases'))).toBe(false);
        expect(read(root, '/var/lib/dhcp/dhcpd.leases')).toMatch(/dhcpd\.leases\(5\)/); // the server's database stays
      }
      if (stack === 'networkmanager') {
        expect(readdirSync(join(root, 'var/lib/NetworkManager')).sort()).toEqual(['NetworkManager.state', 'timestamps']);
        expect(existsSync(join(root, 'etc/NetworkManager/system-connections/Wired.nmconnection'))).toBe(true);
      }
      // Old private keys, secrets and leases are not copied to the backups.
      const backups = walk(join(root, 'var/lib/contextualization/backup'));
      expect(backups.filter((b) => /ssh_host_[a-z0-9]+_key\.(orig|prev)$|random-seed|lease|secret_key/.test(b))).toEqual([]);
      expect(r.backups.filter((b) => /ssh_host_.*_key\.pub/.test(b)).length).toBe(3); // public halves are kept
    });
  }

  it('two clones of one image share nothing: ids, keys and seeds all differ', () => {
    const a = plan(bookworm('ifupdown'), {}, 101);
    const b = plan(bookworm('ifupdown'), {}, 202);
    expect(a.machineId).not.toBe(b.machineId);
    expect(a.machineId).not.toBe(BASE_MACHINE_ID);
    for (const i of [0, 1]) expect(a.hostKeys[i]!.fingerprint).not.toBe(b.hostKeys[i]!.fingerprint);
    const seedOf = (p: IdentityPlan) => p.plan.files.find((f) => f.path === '/var/lib/systemd/random-seed')!.content;
    expect(seedOf(a)).not.toBe(seedOf(b));
    // Pure: the same randomness gives the same plan.
    expect(plan(bookworm('ifupdown'), {}, 101).plan).toEqual(a.plan);
  });

  it('--dry-run never shows a private key or a seed, and says what is deleted without backup', () => {
    const p = plan(bookworm('networkmanager'), {}, 3);
    const text = formatPlan(p.plan);
    expect(text).not.toMatch(/PRIVATE KEY/);
    for (const f of p.plan.files.filter((x) => x.secret)) {
      expect(text).not.toContain(f.content.split('\n')[1] ?? f.content);
      expect(text).toContain(`=== write ${f.path} (mode 0600): `);
    }
    expect(text).toContain(`(${RANDOM_SEED_BYTES} bytes, secret: not shown)`);
    expect(text).toContain('=== delete /var/lib/NetworkManager/secret_key (no backup): inherited NetworkManager secret: this instance is a new DHCP client');
    expect(text).toContain(`=== write /etc/ssh/ssh_host_ed25519_key.pub (mode 0644): new ssh-ed25519 host key ${p.hostKeys[0]!.fingerprint}`);
    expect(p.plan.files.filter((f) => f.secret).map((f) => f.path)).toEqual([
      '/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ecdsa_key', '/etc/ssh/ssh_host_rsa_key', '/var/lib/systemd/random-seed',
    ]);
  });

  it('summary lines for the console and status', () => {
    const p = plan(bookworm('networkmanager'), {}, 4);
    expect(p.summary).toEqual([
      `machine-id: new ${p.machineId}`,
      `SSH host keys: new ${p.hostKeys.map((k) => `${k.type} ${k.fingerprint} (${k.generateMs} ms)`).join(', ')}`,
      'DHCP client identity: 2 inherited file(s) removed (NetworkManager)',
      'random seed: new (/var/lib/systemd/random-seed)',
    ]);
  });
});

describe('machine-id: systemd\'s first-boot semantics are kept', () => {
  for (const [state, content] of [['empty', ''], ['uninitialized', 'uninitialized\n']] as const) {
    it(`shipped ${state}: left for systemd to fill at boot (ConditionFirstBoot stays as systemd decides)`, () => {
      const root = bookworm('networkd');
      put(root, '/etc/machine-id', content, 0o444);
      const p = plan(root);
      expect(p.machineId).toBeUndefined();
      expect(p.plan.files.map((f) => f.path)).not.toContain('/etc/machine-id');
      expect(p.summary[0]).toMatch(/^machine-id: left to systemd \(the image ships it (empty|"uninitialized"); systemd generates a new one at boot\)$/);
    });
  }

  it('absent: left to systemd as well', () => {
    const root = bookworm('networkd');
    unlinkSync(join(root, 'etc/machine-id'));
    expect(plan(root).summary[0]).toBe('machine-id: left to systemd (the image ships it absent; systemd generates a new one at boot)');
  });

  it('live, with systemd\'s transient id mounted over it: not written (a rename over a mount point fails)', () => {
    const root = bookworm('networkd');
    put(root, '/proc/self/mountinfo', '31 26 0:25 /machine-id /etc/machine-id ro - tmpfs tmpfs rw\n');
    const p = plan(root);
    expect(p.plan.files.map((f) => f.path)).not.toContain('/etc/machine-id');
    expect(p.summary[0]).toBe('machine-id: left to systemd (systemd mounted a fresh transient id over it at this boot)');
  });

  it('a D-Bus id file next to a valid id gets the same new id; next to an empty one it is deleted', async () => {
    const root = bookworm('ifupdown');
    unlinkSync(join(root, 'var/lib/dbus/machine-id'));
    put(root, '/var/lib/dbus/machine-id', `${BASE_MACHINE_ID}\n`);
    const p = plan(root);
    await apply(root, p);
    expect(read(root, '/var/lib/dbus/machine-id')).toBe(`${p.machineId}\n`);

    put(root, '/etc/machine-id', '', 0o444);
    const q = plan(root);
    expect(q.plan.discard).toContainEqual({ path: '/var/lib/dbus/machine-id', reason: 'the base image\'s D-Bus machine id; D-Bus falls back to /etc/machine-id' });
    await apply(root, q);
    expect(existsSync(join(root, 'var/lib/dbus/machine-id'))).toBe(false);
    expect(read(root, '/etc/machine-id')).toBe('');
  });

  it('garbage in /etc/machine-id is replaced, with a note; a D-Bus link elsewhere is left with a note', () => {
    const root = bookworm('ifupdown');
    put(root, '/etc/machine-id', 'not-an-id\n', 0o444);
    unlinkSync(join(root, 'var/lib/dbus/machine-id'));
    link(root, '/var/lib/dbus/machine-id', '/srv/dbus-id');
    const p = plan(root);
    expect(p.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(noteTexts(p.plan.notes)).toEqual([
      '/etc/machine-id holds "not-an-id", not a machine id: replaced by a new one',
      '/var/lib/dbus/machine-id links to /srv/dbus-id, not /etc/machine-id: left as it is',
    ]);
    // A relative link to /etc/machine-id is fine.
    unlinkSync(join(root, 'var/lib/dbus/machine-id'));
    link(root, '/var/lib/dbus/machine-id', '../../../etc/machine-id');
    expect(noteTexts(plan(root).plan.notes)).toEqual(['/etc/machine-id holds "not-an-id", not a machine id: replaced by a new one']);
  });

  it('newMachineId is a v4 UUID in systemd\'s form', () => {
    const ids = new Set(Array.from({ length: 200 }, (_, i) => newMachineId(seededRandom(i))));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
  });
});

describe('SSH host keys: the types the image had, ed25519 first', () => {
  it('only ed25519 in the image: only ed25519 (no RSA cost)', () => {
    const root = bookworm('networkd');
    for (const t of ['rsa', 'ecdsa']) for (const s of ['', '.pub']) unlinkSync(join(root, `etc/ssh/ssh_host_${t}_key${s}`));
    const rand = seededRandom(5);
    const p = planIdentity(facts(root), {}, rand);
    expect(p.hostKeys.map((k) => k.type)).toEqual(['ed25519']);
    expect(rand.rsaRequests).toEqual([]);
    expect(p.plan.files.filter((f) => f.path.startsWith('/etc/ssh/')).map((f) => f.path)).toEqual(['/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ed25519_key.pub']);
  });

  it('sshd without any key: an ed25519 key so that it can start, with a note', () => {
    const root = bookworm('networkd');
    for (const t of ['rsa', 'ecdsa', 'ed25519']) for (const s of ['', '.pub']) unlinkSync(join(root, `etc/ssh/ssh_host_${t}_key${s}`));
    const p = plan(root);
    expect(p.hostKeys.map((k) => k.type)).toEqual(['ed25519']);
    expect(noteTexts(p.plan.notes)).toContain('SSH: the image has openssh-server but no host keys; generating an ed25519 key so that sshd can start');
  });

  it('no openssh-server: keys left alone', () => {
    const root = bookworm('networkd');
    unlinkSync(join(root, 'usr/sbin/sshd'));
    const p = plan(root);
    expect(p.hostKeys).toEqual([]);
    expect(p.plan.files.some((f) => f.path.startsWith('/etc/ssh/'))).toBe(false);
    expect(p.summary[1]).toBe('SSH host keys: openssh-server is not installed; the 3 key name(s) in /etc/ssh left as they are');
  });

  it('keeps an ECDSA curve and a larger RSA size; a small RSA key becomes 3072', () => {
    const root = bookworm('networkd');
    const dir = tmp('keys-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '384', '-N', '', '-f', join(dir, 'e')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '1024', '-N', '', '-f', join(dir, 'r')]);
    put(root, '/etc/ssh/ssh_host_ecdsa_key.pub', readFileSync(join(dir, 'e.pub')));
    put(root, '/etc/ssh/ssh_host_rsa_key.pub', readFileSync(join(dir, 'r.pub')));
    const rand = seededRandom(9);
    const p = planIdentity(facts(root), {}, rand);
    expect(p.hostKeys.map((k) => k.algorithm)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp384', 'ssh-rsa']);
    expect(rand.rsaRequests).toEqual([3072]);
    const f = facts(root);
    f.ssh.keys[2]!.rsaBits = 4096;
    const rand2 = seededRandom(9);
    planIdentity(f, {}, rand2);
    expect(rand2.rsaRequests).toEqual([4096]);
  });

  it('DSA keys and certificates of replaced keys are deleted; odd names and custom HostKeys get a note', async () => {
    const root = bookworm('ifupdown');
    put(root, '/etc/ssh/ssh_host_dsa_key', 'x', 0o600);
    put(root, '/etc/ssh/ssh_host_dsa_key.pub', 'ssh-dss AAAA root@debian\n');
    put(root, '/etc/ssh/ssh_host_rsa_key-cert.pub', 'ssh-rsa-cert-v01@openssh.com AAAA\n');
    put(root, '/etc/ssh/ssh_host_key', 'SSH PRIVATE KEY FILE FORMAT 1.1\n', 0o600);
    put(root, '/etc/ssh/sshd_config.d/k.conf', 'HostKey /srv/k\n');
    const p = plan(root);
    expect(p.plan.discard?.filter((d) => d.path.startsWith('/etc/ssh/'))).toEqual([
      { path: '/etc/ssh/ssh_host_rsa_key-cert.pub', reason: 'certificate of the replaced host key' },
      { path: '/etc/ssh/ssh_host_dsa_key', reason: 'the base image\'s DSA host key (not regenerated: OpenSSH has dropped DSA)' },
      { path: '/etc/ssh/ssh_host_dsa_key.pub', reason: 'the base image\'s DSA host key (not regenerated: OpenSSH has dropped DSA)' },
    ]);
    expect(noteTexts(p.plan.notes)).toEqual([
      'SSH: /etc/ssh/ssh_host_key is not a standard host key name: left as it is',
      'SSH: /etc/ssh/sshd_config.d/k.conf: HostKey /srv/k: only the standard /etc/ssh/ssh_host_*_key files are renewed',
    ]);
    await apply(root, p);
    expect(readdirSync(join(root, 'etc/ssh')).filter((n) => n.startsWith('ssh_host_')).sort()).toEqual([
      'ssh_host_ecdsa_key', 'ssh_host_ecdsa_key.pub', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub', 'ssh_host_key', 'ssh_host_rsa_key', 'ssh_host_rsa_key.pub',
    ]);
  });

  it('the comment falls back to /etc/hostname, then localhost', () => {
    const root = bookworm('networkd');
    expect(plan(root).plan.files.find((f) => f.path.endsWith('ed25519_key.pub'))!.content).toMatch(/ root@debian\n$/);
    unlinkSync(join(root, 'etc/hostname'));
    expect(plan(root).plan.files.find((f) => f.path.endsWith('ed25519_key.pub'))!.content).toMatch(/ root@localhost\n$/);
  });
});

describe('opt-outs', () => {
  it('each item can be kept; the reason is in the summary and nothing of it is planned', () => {
    const root = bookworm('ifupdown');
    const p = plan(root, {
      new_machine_id: 'new_machine_id = no in common/context.ini',
      new_ssh_host_keys: 'new_ssh_host_keys = no in /etc/contextualization/identity.conf',
      new_dhcp_identity: 'x',
      new_random_seed: 'y',
    });
    expect(p.plan.files).toEqual([]);
    expect(p.plan.discard).toBeUndefined();
    expect(p.hostKeys).toEqual([]);
    expect(p.summary).toEqual([
      'machine-id: kept (new_machine_id = no in common/context.ini)',
      'SSH host keys: kept (new_ssh_host_keys = no in /etc/contextualization/identity.conf)',
      'DHCP client identity: kept (x)',
      'random seed: kept (y)',
    ]);
  });

  it('networkd with the machine-id kept: a note that its DUID stays the base image\'s', () => {
    const p = plan(bookworm('networkd'), { new_machine_id: 'k' });
    expect(noteTexts(p.plan.notes)).toContain('systemd-networkd derives its DHCP DUID from /etc/machine-id, which is kept: this clone asks DHCP servers as the base image did');
  });

  it('keeping the DHCP identity leaves the leases', () => {
    const p = plan(bookworm('networkmanager'), { new_dhcp_identity: 'k' });
    expect((p.plan.discard ?? []).some((d) => d.path.includes('NetworkManager'))).toBe(false);
  });
});

/**
 * gatherIdentityFacts / readIdentityConf over image roots laid out as Debian bookworm leaves them
 * (test/identity/fixtures.ts), plus the variants that matter: machine-id states, a D-Bus id file,
 * DSA keys and certificates, custom HostKey lines, dhcpcd.
 */
import { RootFs } from '../../lib/fs/index.js';
import { unlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { IDENTITY_KEYS } from '../../lib/context/model.js';
import {
  gatherIdentityFacts, machineIdState, mergeOptOuts, parseMountinfo, readIdentityConf, rootView,
} from '../../agent/src/system/identity-facts.js';
import { BASE_MACHINE_ID, NM_UUID, bookworm, cleanup, link, put, tmp } from './fixtures.js';

afterAll(cleanup);

describe('gatherIdentityFacts on bookworm roots', () => {
  it('ifupdown + dhclient: machine-id, D-Bus link, three host keys, dhclient leases (not dhcpd\'s), random seed', () => {
    const facts = gatherIdentityFacts(rootView(new RootFs(bookworm('ifupdown'))));
    expect(facts).toEqual({
      machineId: { kind: 'valid', id: BASE_MACHINE_ID },
      machineIdTransient: false,
      dbusMachineId: { kind: 'symlink', target: '/etc/machine-id' },
      hostname: 'debian',
      ssh: {
        server: true,
        keys: [
          { type: 'ed25519', privatePath: '/etc/ssh/ssh_host_ed25519_key', publicPath: '/etc/ssh/ssh_host_ed25519_key.pub', algorithm: 'ssh-ed25519' },
          { type: 'ecdsa', privatePath: '/etc/ssh/ssh_host_ecdsa_key', publicPath: '/etc/ssh/ssh_host_ecdsa_key.pub', algorithm: 'ecdsa-sha2-nistp256' },
          { type: 'rsa', privatePath: '/etc/ssh/ssh_host_rsa_key', publicPath: '/etc/ssh/ssh_host_rsa_key.pub', algorithm: 'ssh-rsa', rsaBits: 3072 },
        ],
        others: [],
        customHostKeys: [],
      },
      dhcp: [
        { path: '/var/lib/dhcp/dhclient.enp1s0.leases', client: 'dhclient', what: 'lease' },
        { path: '/var/lib/dhcp/dhclient6.enp1s0.leases', client: 'dhclient', what: 'duid' },
      ],
      networkd: false,
      networkdState: [],
      randomSeeds: ['/var/lib/systemd/random-seed'],
    });
  });

  it('networkd: nothing on disk is a client identity (its DUID comes from the machine-id)', () => {
    const facts = gatherIdentityFacts(rootView(new RootFs(bookworm('networkd'))));
    expect(facts.networkd).toBe(true);
    expect(facts.dhcp).toEqual([]);
    expect(facts.networkdState).toEqual([]);
  });

  it('NetworkManager: its lease and secret_key, not its state, timestamps or connection files', () => {
    const facts = gatherIdentityFacts(rootView(new RootFs(bookworm('networkmanager'))));
    expect(facts.dhcp).toEqual([
      { path: `/var/lib/NetworkManager/internal-${NM_UUID}-enp1s0.lease`, client: 'NetworkManager', what: 'lease' },
      { path: '/var/lib/NetworkManager/secret_key', client: 'NetworkManager', what: 'secret' },
    ]);
  });

  it('dhcpcd, NM dhclient leases and DUID files', () => {
    const r = tmp('dhcp-');
    put(r, '/var/lib/dhcpcd/duid', '00:04:aa');
    put(r, '/var/lib/dhcpcd/secret', 'x');
    put(r, '/var/lib/dhcpcd/enp1s0.lease', 'x');
    put(r, '/var/lib/dhcpcd/enp1s0.lease6', 'x');
    put(r, '/var/lib/dhcpcd/dhcpcd.conf.bak', 'x');
    put(r, '/var/lib/NetworkManager/dhclient6-enp1s0.lease', 'x');
    put(r, '/var/lib/NetworkManager/dhclient6-enp1s0.duid', 'x');
    put(r, '/var/lib/NetworkManager/seen-bssids', 'x');
    expect(gatherIdentityFacts(rootView(new RootFs(r))).dhcp.map((f) => `${f.client} ${f.what} ${f.path}`)).toEqual([
      'dhcpcd duid /var/lib/dhcpcd/duid',
      'dhcpcd lease /var/lib/dhcpcd/enp1s0.lease',
      'dhcpcd lease /var/lib/dhcpcd/enp1s0.lease6',
      'dhcpcd secret /var/lib/dhcpcd/secret',
      'NetworkManager duid /var/lib/NetworkManager/dhclient6-enp1s0.duid',
      'NetworkManager lease /var/lib/NetworkManager/dhclient6-enp1s0.lease',
    ]);
  });

  it('machine-id states, as systemd reads them', () => {
    expect(machineIdState(undefined)).toEqual({ kind: 'absent' });
    expect(machineIdState('')).toEqual({ kind: 'empty' });
    expect(machineIdState('\n')).toEqual({ kind: 'empty' });
    expect(machineIdState('uninitialized\n')).toEqual({ kind: 'uninitialized' });
    expect(machineIdState(`${BASE_MACHINE_ID}\n`)).toEqual({ kind: 'valid', id: BASE_MACHINE_ID });
    expect(machineIdState(`${'0'.repeat(32)}\n`)).toEqual({ kind: 'invalid', content: '0'.repeat(32) });
    expect(machineIdState('5C3F1E0A9B8D4C7E8F6A5B4C3D2E1F00')).toEqual({ kind: 'invalid', content: '5C3F1E0A9B8D4C7E8F6A5B4C3D2E1F00' });
  });

  it('a transient machine-id mounted by systemd is seen in mountinfo (with its escapes)', () => {
    const r = bookworm('networkd');
    put(r, '/proc/self/mountinfo', [
      '26 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
      '31 26 0:25 /machine-id /etc/machine-id ro shared:9 - tmpfs tmpfs rw,size=4096k',
      '32 26 0:26 / /mnt/with\\040space rw - tmpfs tmpfs rw',
      '',
    ].join('\n'));
    expect(gatherIdentityFacts(rootView(new RootFs(r))).machineIdTransient).toBe(true);
    expect(parseMountinfo(rootView(new RootFs(r)).readFile('/proc/self/mountinfo')!).map((m) => m.mountPoint)).toEqual(['/', '/etc/machine-id', '/mnt/with space']);
  });

  it('a D-Bus machine id file, DSA keys, a certificate, an SSH-1 key and a custom HostKey', () => {
    const r = bookworm('ifupdown');
    put(r, '/var/lib/dbus/machine-id.tmp', ''); // unrelated
    const view = rootView(new RootFs(r));
    expect(view.readLink('/var/lib/dbus/machine-id')).toBe('/etc/machine-id');
    unlinkSync(`${r}/var/lib/dbus/machine-id`); // a file instead of the link
    put(r, '/var/lib/dbus/machine-id', `${BASE_MACHINE_ID}\n`);
    put(r, '/etc/ssh/ssh_host_dsa_key', 'x', 0o600);
    put(r, '/etc/ssh/ssh_host_dsa_key.pub', 'ssh-dss AAAA root@debian\n');
    put(r, '/etc/ssh/ssh_host_ed25519_key-cert.pub', 'ssh-ed25519-cert-v01@openssh.com AAAA\n');
    put(r, '/etc/ssh/ssh_host_key', 'SSH PRIVATE KEY FILE FORMAT 1.1\n', 0o600);
    put(r, '/etc/ssh/sshd_config.d/10-keys.conf', 'HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /srv/keys/host_key\n');
    const facts = gatherIdentityFacts(rootView(new RootFs(r)));
    expect(facts.dbusMachineId).toEqual({ kind: 'file', content: `${BASE_MACHINE_ID}\n` });
    expect(facts.ssh.keys.map((k) => k.type)).toEqual(['ed25519', 'ecdsa', 'rsa', 'dsa']);
    expect(facts.ssh.keys[0]!.certificatePath).toBe('/etc/ssh/ssh_host_ed25519_key-cert.pub');
    expect(facts.ssh.keys[3]).toEqual({ type: 'dsa', privatePath: '/etc/ssh/ssh_host_dsa_key', publicPath: '/etc/ssh/ssh_host_dsa_key.pub' });
    expect(facts.ssh.others).toEqual(['/etc/ssh/ssh_host_key']);
    expect(facts.ssh.customHostKeys).toEqual(['/etc/ssh/sshd_config.d/10-keys.conf: HostKey /srv/keys/host_key']);
  });

  it('an absolute symlink in an image root resolves inside the root, never to the host', () => {
    const r = tmp('links-');
    link(r, '/etc/machine-id', '/srv/id'); // would be the host's /srv/id if followed naively
    put(r, '/srv/id', `${BASE_MACHINE_ID}\n`);
    expect(gatherIdentityFacts(rootView(new RootFs(r))).machineId).toEqual({ kind: 'valid', id: BASE_MACHINE_ID });
    const empty = gatherIdentityFacts(rootView(new RootFs(tmp('empty-'))));
    expect(empty.machineId).toEqual({ kind: 'absent' });
    expect(empty.ssh).toEqual({ server: false, keys: [], others: [], customHostKeys: [] });
  });
});

describe('opt-outs', () => {
  const conf = (text: string) => {
    const r = tmp('conf-');
    put(r, '/etc/contextualization/identity.conf', text);
    return readIdentityConf(rootView(new RootFs(r)));
  };

  it('identity.conf: [identity] key = no opts out, yes is the default', () => {
    expect(conf('# keep our licensed machine-id\n[identity]\nnew_machine_id = no\nnew_ssh_host_keys = yes\n')).toEqual({
      optOuts: { new_machine_id: 'new_machine_id = no in /etc/contextualization/identity.conf' },
      problems: [],
    });
    expect(readIdentityConf(rootView(new RootFs(tmp('none-'))))).toEqual({ optOuts: {}, problems: [] });
  });

  it('identity.conf with a problem keeps everything and says why, one line each', () => {
    const r = conf('[identity]\nnew_machine_id = maybe\nnew_ssh_keys = no\ngrow_root = true\n[other]\nx = 1\n');
    expect(r.problems).toEqual([
      '/etc/contextualization/identity.conf line 2: [identity] new_machine_id = "maybe": must be yes or no',
      '/etc/contextualization/identity.conf line 3: [identity] new_ssh_keys: unknown key (known: new_machine_id, new_ssh_host_keys, new_dhcp_identity, new_random_seed, grow_root)',
      '/etc/contextualization/identity.conf line 4: [identity] grow_root = "true": must be yes or no',
      '/etc/contextualization/identity.conf line 5: [other]: unknown section (known: [identity] with new_machine_id, new_ssh_host_keys, new_dhcp_identity, new_random_seed, grow_root)',
    ]);
    expect(Object.keys(r.optOuts).sort()).toEqual([...IDENTITY_KEYS].sort());
    expect(conf('new_machine_id = no\n').problems).toEqual([
      '/etc/contextualization/identity.conf line 1: new_machine_id: key outside [identity] (known: [identity] with new_machine_id, new_ssh_host_keys, new_dhcp_identity, new_random_seed, grow_root)',
    ]);
    expect(conf('[identity]\ngrow_root = no\ngrow_root = yes\nnot a line\n').problems).toEqual([
      '/etc/contextualization/identity.conf line 3: [identity] grow_root: repeated (first on line 2)',
      '/etc/contextualization/identity.conf line 4: "not a line": not a [section] or key = value line',
    ]);
  });

  it('context and image can only opt out; the image\'s reason is kept when both say no', () => {
    expect(mergeOptOuts({ new_machine_id: 'image' }, { new_machine_id: false, grow_root: false })).toEqual({
      new_machine_id: 'image',
      grow_root: 'grow_root = no in common/context.ini',
    });
    expect(mergeOptOuts({}, undefined)).toEqual({});
  });
});

/**
 * Image roots laid out as Debian bookworm leaves them after `debootstrap` + the packages named, with
 * host keys made by the real `ssh-keygen` (as openssh-server's postinst does, `ssh-keygen -A`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mulberry32 } from '../support/prng.js';
import type { IdentityRandom } from '../../agent/src/steps/identity.js';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export const BASE_MACHINE_ID = '5c3f1e0a9b8d4c7e8f6a5b4c3d2e1f00';
export const NM_UUID = '2b9c1f4e-8f0a-4d3b-9c6e-7a5d4e3f2a1b';

const made: string[] = [];

export function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function put(root: string, path: string, content: string | Buffer = '', mode = 0o644): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content, { mode });
}

export function link(root: string, path: string, target: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(target, join(root, path));
}

/** Real host keys, made once per process with ssh-keygen (RSA 3072 takes a moment). */
let keyCache: string | undefined;
export function baseHostKeys(): string {
  if (keyCache) return keyCache;
  keyCache = tmp('base-keys-');
  for (const [t, extra] of [['rsa', ['-b', '3072']], ['ecdsa', ['-b', '256']], ['ed25519', []]] as const) {
    execFileSync('ssh-keygen', ['-q', '-t', t, ...extra, '-N', '', '-C', 'root@debian', '-f', join(keyCache, `ssh_host_${t}_key`)]);
  }
  return keyCache;
}

export type Stack = 'ifupdown' | 'networkd' | 'networkmanager';

/** A bookworm root with openssh-server (rsa+ecdsa+ed25519 keys), dbus, systemd and one network stack. */
export function bookworm(stack: Stack, root = tmp(`bookworm-${stack}-`)): string {
  put(root, '/etc/machine-id', `${BASE_MACHINE_ID}\n`, 0o444);
  link(root, '/var/lib/dbus/machine-id', '/etc/machine-id');
  put(root, '/etc/hostname', 'debian\n');
  put(root, '/usr/sbin/sshd', '#!/bin/sh\n', 0o755);
  put(root, '/etc/ssh/sshd_config', 'Include /etc/ssh/sshd_config.d/*.conf\n#HostKey /etc/ssh/ssh_host_rsa_key\n#HostKey /etc/ssh/ssh_host_ecdsa_key\n#HostKey /etc/ssh/ssh_host_ed25519_key\nKbdInteractiveAuthentication no\n');
  mkdirSync(join(root, 'etc/ssh/sshd_config.d'), { recursive: true });
  put(root, '/etc/ssh/moduli', 'moduli\n');
  const keys = baseHostKeys();
  for (const t of ['rsa', 'ecdsa', 'ed25519']) {
    put(root, `/etc/ssh/ssh_host_${t}_key`, readFileSync(join(keys, `ssh_host_${t}_key`)), 0o600);
    put(root, `/etc/ssh/ssh_host_${t}_key.pub`, readFileSync(join(keys, `ssh_host_${t}_key.pub`)), 0o644);
  }
  put(root, '/var/lib/systemd/random-seed', Buffer.alloc(512, 0xab), 0o600);
  put(root, '/lib/systemd/systemd', '', 0o755);
  if (stack === 'ifupdown') {
    put(root, '/etc/network/interfaces', 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\nallow-hotplug enp1s0\niface enp1s0 inet dhcp\n');
    put(root, '/var/lib/dhcp/dhclient.enp1s0.leases', 'lease {\n  interface "enp1s0";\n  fixed-address 10.0.2.15;\n  option dhcp-lease-time 86400;\n  option dhcp-client-identifier 1:52:54:0:12:34:56;\n}\n');
    put(root, '/var/lib/dhcp/dhclient6.enp1s0.leases', 'default-duid "\\000\\004\\\\\\077\\036\\012\\233\\215L~\\217jZL=.\\037\\000";\nlease6 {\n  interface "enp1s0";\n}\n');
    // A DHCP *server*'s database in the same directory (isc-dhcp-server): never the client's identity.
    put(root, '/var/lib/dhcp/dhcpd.leases', '# The format of this file is documented in the dhcpd.leases(5) manual page.\n');
  } else if (stack === 'networkd') {
    put(root, '/lib/systemd/systemd-networkd', '', 0o755);
    mkdirSync(join(root, 'var/lib/systemd/network'), { recursive: true });
  } else {
    put(root, '/usr/sbin/NetworkManager', '', 0o755);
    put(root, `/var/lib/NetworkManager/internal-${NM_UUID}-enp1s0.lease`, '# This is private data. Do not parse.\nADDRESS=10.0.2.15\n');
    put(root, '/var/lib/NetworkManager/secret_key', Buffer.alloc(32, 0x5a), 0o600);
    put(root, '/var/lib/NetworkManager/NetworkManager.state', '[main]\nNetworkingEnabled=true\n');
    put(root, '/var/lib/NetworkManager/timestamps', `[timestamps]\n${NM_UUID}=1700000000\n`);
    put(root, '/etc/NetworkManager/system-connections/Wired.nmconnection', `[connection]\nid=Wired\nuuid=${NM_UUID}\ntype=ethernet\n`, 0o600);
  }
  return root;
}

/** Reproducible randomness; RSA keys are real (node:crypto) and cached per size, the requested sizes recorded. */
const rsaCache = new Map<number, KeyObject>();
export function seededRandom(seed: number): IdentityRandom & { rsaRequests: number[] } {
  const next = mulberry32(seed);
  const rsaRequests: number[] = [];
  return {
    rsaRequests,
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
    rsaKey: (bits) => {
      rsaRequests.push(bits);
      let k = rsaCache.get(bits);
      if (!k) rsaCache.set(bits, (k = generateKeyPairSync('rsa', { modulusLength: bits }).privateKey));
      return k;
    },
  };
}

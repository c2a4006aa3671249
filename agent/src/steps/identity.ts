/**
 * A cloned base image becomes a new machine (issue 14, docs/clone-identity.md): on a NEW instance only,
 * a new machine-id, new SSH host keys (the types the image had, ed25519 first), no inherited DHCP
 * leases/DUIDs, a new random seed. Pure: facts and randomness in, a Plan out (and the new keys'
 * fingerprints for the console and status.json). The caller decides "new instance"; this never looks.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { posix } from 'node:path';
import type { IdentityKey } from '../../../lib/context/model.js';
import { ecdsaFromRandom, ed25519FromSeed, openSshKeyFiles, type EcdsaCurve } from '../../../lib/ssh/openssh-key.js';
import { emptyPlan, info, warn, type Plan } from '../types/plan.js';
import {
  DBUS_MACHINE_ID, KEY_ORDER, MACHINE_ID, type HostKeyFact, type HostKeyType, type IdentityFacts, type IdentityOptOuts,
} from '../system/identity-facts.js';

/** Where randomness comes from: injected so the planner stays pure and tests reproducible. */
export interface IdentityRandom {
  bytes(n: number): Buffer;
  /** node:crypto cannot derive an RSA key from given bytes, so RSA generation itself is injected. */
  rsaKey(bits: number): KeyObject;
}

export const systemRandom: IdentityRandom = {
  bytes: (n) => randomBytes(n),
  rsaKey: (bits) => generateKeyPairSync('rsa', { modulusLength: bits }).privateKey,
};

export interface HostKeyFingerprint {
  type: Exclude<HostKeyType, 'dsa'>;
  algorithm: string;
  /** SHA256:..., as `ssh-keygen -l` prints it. */
  fingerprint: string;
  publicPath: string;
  /** Time to make the key pair (RSA's prime search dominates a new instance's identity cost). */
  generateMs: number;
}

export interface IdentityPlan {
  plan: Plan;
  /** The new /etc/machine-id, when one is written. */
  machineId?: string;
  hostKeys: HostKeyFingerprint[];
  /** One line per item for the log/status: what was renewed or why not. */
  summary: string[];
}

export interface IdentityOptions {
  /** Host name for the new keys' comment (root@NAME, as ssh-keygen -A writes); else /etc/hostname's. */
  hostname?: string;
}

/** systemd's random-seed pool size: 512 bytes. */
export const RANDOM_SEED_BYTES = 512;
/** ssh-keygen's default; an image's larger RSA key keeps its size. */
export const RSA_MIN_BITS = 3072;

/** A machine-id as systemd makes one: 128 random bits as a v4 UUID in 32 lower-case hex digits. */
export function newMachineId(rand: IdentityRandom): string {
  const b = Buffer.from(rand.bytes(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b.toString('hex');
}

export function planIdentity(facts: IdentityFacts, optOuts: IdentityOptOuts, rand: IdentityRandom, opts: IdentityOptions = {}): IdentityPlan {
  const out: IdentityPlan = { plan: emptyPlan(), hostKeys: [], summary: [] };
  const kept = (key: IdentityKey, what: string): boolean => {
    const why = optOuts[key];
    if (why) out.summary.push(`${what}: kept (${why})`);
    return why !== undefined;
  };
  if (!kept('new_machine_id', 'machine-id')) machineId(facts, rand, out);
  if (!kept('new_ssh_host_keys', 'SSH host keys')) hostKeys(facts, rand, opts, out);
  if (!kept('new_dhcp_identity', 'DHCP client identity')) dhcpIdentity(facts, optOuts, out);
  if (!kept('new_random_seed', 'random seed')) randomSeed(facts, rand, out);
  return out;
}

function machineId(facts: IdentityFacts, rand: IdentityRandom, out: IdentityPlan): void {
  const { plan } = out;
  const state = facts.machineId;
  if (facts.machineIdTransient || state.kind === 'empty' || state.kind === 'uninitialized' || state.kind === 'absent') {
    // The image left the id to systemd: it makes a fresh one at each boot until one is committed, and
    // "uninitialized"/absent also mean ConditionFirstBoot=yes (presets, systemd-firstboot). Writing an
    // id here would take that first boot away, and live the file is bind-mounted (a rename fails).
    const why = facts.machineIdTransient ? 'systemd mounted a fresh transient id over it at this boot'
      : `the image ships it ${state.kind === 'absent' ? 'absent' : state.kind === 'empty' ? 'empty' : '"uninitialized"'}; systemd generates a new one at boot`;
    out.summary.push(`machine-id: left to systemd (${why})`);
    // A regular /var/lib/dbus/machine-id would keep the base image's id for D-Bus: drop it, D-Bus then
    // reads /etc/machine-id (and systemd-tmpfiles links it there again).
    if (facts.dbusMachineId.kind === 'file') plan.discard = [{ path: DBUS_MACHINE_ID, reason: 'the base image\'s D-Bus machine id; D-Bus falls back to /etc/machine-id' }];
    return;
  }
  if (state.kind === 'invalid') plan.notes.push(warn(`${MACHINE_ID} holds ${JSON.stringify(state.content)}, not a machine id: replaced by a new one`, MACHINE_ID));
  const id = newMachineId(rand);
  out.machineId = id;
  // 0444 as systemd-machine-id-setup leaves it.
  plan.files.push({ path: MACHINE_ID, content: `${id}\n`, mode: 0o444, reason: 'a new machine-id for this instance (a clone must not share the base image\'s)' });
  const dbus = facts.dbusMachineId;
  if (dbus.kind === 'file') plan.files.push({ path: DBUS_MACHINE_ID, content: `${id}\n`, mode: 0o644, reason: 'D-Bus machine id, the same as /etc/machine-id' });
  else if (dbus.kind === 'symlink' && posix.resolve(posix.dirname(DBUS_MACHINE_ID), dbus.target) !== MACHINE_ID) {
    plan.notes.push(warn(`${DBUS_MACHINE_ID} links to ${dbus.target}, not ${MACHINE_ID}: left as it is`, DBUS_MACHINE_ID));
  }
  out.summary.push(`machine-id: new ${id}`);
}

const CURVE_OF: Record<string, EcdsaCurve> = { 'ecdsa-sha2-nistp256': 'nistp256', 'ecdsa-sha2-nistp384': 'nistp384', 'ecdsa-sha2-nistp521': 'nistp521' };

function hostKeys(facts: IdentityFacts, rand: IdentityRandom, opts: IdentityOptions, out: IdentityPlan): void {
  const { plan } = out;
  const ssh = facts.ssh;
  if (!ssh.server) {
    out.summary.push(ssh.keys.length
      ? `SSH host keys: openssh-server is not installed; the ${ssh.keys.length} key name(s) in /etc/ssh left as they are`
      : 'SSH host keys: openssh-server is not installed; nothing to do');
    return;
  }
  const discard = (plan.discard ??= []);
  const had = new Map(ssh.keys.map((k) => [k.type, k]));
  let wanted = KEY_ORDER.filter((t): t is Exclude<HostKeyType, 'dsa'> => t !== 'dsa' && had.has(t));
  if (wanted.length === 0) {
    wanted = ['ed25519'];
    plan.notes.push(info('SSH: the image has openssh-server but no host keys; generating an ed25519 key so that sshd can start', '/etc/ssh'));
  }
  const comment = `root@${opts.hostname ?? facts.hostname ?? 'localhost'}`;
  for (const type of wanted) {
    const old = had.get(type);
    const started = performance.now();
    const key = keyFor(type, old, rand);
    const generateMs = Math.round(performance.now() - started);
    const files = openSshKeyFiles(key, comment, rand.bytes(4).readUInt32BE(0));
    const path = `/etc/ssh/ssh_host_${type}_key`;
    plan.files.push(
      { path, content: files.privateKey, mode: 0o600, reason: `new ${files.algorithm} host key`, secret: true },
      { path: `${path}.pub`, content: files.publicLine, mode: 0o644, reason: `new ${files.algorithm} host key ${files.fingerprint}` },
    );
    out.hostKeys.push({ type, algorithm: files.algorithm, fingerprint: files.fingerprint, publicPath: `${path}.pub`, generateMs });
    // A certificate signs the old key: it no longer matches.
    if (old?.certificatePath) discard.push({ path: old.certificatePath, reason: 'certificate of the replaced host key' });
  }
  const dsa = had.get('dsa');
  if (dsa) {
    for (const p of [dsa.privatePath, dsa.publicPath, dsa.certificatePath]) if (p) discard.push({ path: p, reason: 'the base image\'s DSA host key (not regenerated: OpenSSH has dropped DSA)' });
  }
  for (const p of ssh.others) plan.notes.push(info(`SSH: ${p} is not a standard host key name: left as it is`, p));
  for (const c of ssh.customHostKeys) plan.notes.push(warn(`SSH: ${c}: only the standard /etc/ssh/ssh_host_*_key files are renewed`, '/etc/ssh/sshd_config'));
  if (discard.length === 0) delete plan.discard;
  out.summary.push(`SSH host keys: new ${out.hostKeys.map((k) => `${k.type} ${k.fingerprint} (${k.generateMs} ms)`).join(', ')}`);
}

function keyFor(type: Exclude<HostKeyType, 'dsa'>, old: HostKeyFact | undefined, rand: IdentityRandom): KeyObject {
  if (type === 'ed25519') return ed25519FromSeed(rand.bytes(32));
  if (type === 'ecdsa') return ecdsaFromRandom(CURVE_OF[old?.algorithm ?? ''] ?? 'nistp256', (n) => rand.bytes(n));
  return rand.rsaKey(Math.max(RSA_MIN_BITS, old?.rsaBits ?? 0));
}

function dhcpIdentity(facts: IdentityFacts, optOuts: IdentityOptOuts, out: IdentityPlan): void {
  const { plan } = out;
  if (facts.dhcp.length) {
    (plan.discard ??= []).push(...facts.dhcp.map((f) => ({ path: f.path, reason: `inherited ${f.client} ${f.what === 'lease' ? 'lease' : f.what === 'duid' ? 'DUID' : 'secret'}: this instance is a new DHCP client` })));
  }
  // networkd keeps no client identity on disk: its DUID is derived from the machine-id.
  if (facts.networkd && optOuts.new_machine_id) {
    plan.notes.push(warn('systemd-networkd derives its DHCP DUID from /etc/machine-id, which is kept: this clone asks DHCP servers as the base image did', MACHINE_ID));
  }
  out.summary.push(facts.dhcp.length
    ? `DHCP client identity: ${facts.dhcp.length} inherited file(s) removed (${[...new Set(facts.dhcp.map((f) => f.client))].join(', ')})`
    : 'DHCP client identity: no inherited leases or DUIDs');
}

function randomSeed(facts: IdentityFacts, rand: IdentityRandom, out: IdentityPlan): void {
  for (const path of facts.randomSeeds) {
    // Every clone would otherwise start from the same seed; systemd credits a seed file it trusts.
    out.plan.files.push({ path, content: rand.bytes(RANDOM_SEED_BYTES).toString('base64'), encoding: 'base64', mode: 0o600, reason: 'a new random seed', secret: true });
  }
  out.summary.push(facts.randomSeeds.length ? `random seed: new (${facts.randomSeeds.join(', ')})` : 'random seed: none in the image');
}

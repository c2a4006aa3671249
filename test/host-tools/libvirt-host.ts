/**
 * A real libvirt host for the end-to-end test, set up and torn down by the test itself: libvirtd
 * (qemu driver; guests use TCG, `<domain type='qemu'>`) and virtlogd are started only when
 * qemu:///system does not answer, and only what was started here is stopped; an sshd on 127.0.0.1 on
 * a free port with a throw-away host key and a test client key authorized through a temp file (no
 * change to /root/.ssh), so `qemu+ssh://root@127.0.0.1:PORT/system` is libvirt's real remote path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';

export const SYSTEM_URI = 'qemu:///system';

async function answers(uri: string): Promise<boolean> {
  const r = await execa('virsh', ['-q', '-c', uri, 'version'], { reject: false, timeout: 60_000 });
  return r.exitCode === 0;
}

async function waitUntil(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} did not come up within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface Daemons {
  /** What this run started (pids), to stop exactly those afterwards. */
  started: { name: string; pid: number }[];
  stop(): Promise<void>;
}

/** Makes qemu:///system answer: nothing to do when it does (systemd socket activation, a running libvirtd). */
export async function ensureLibvirtd(work: string): Promise<Daemons> {
  const started: Daemons['started'] = [];
  const daemons: Daemons = {
    started,
    async stop() {
      for (const d of started.reverse()) {
        try {
          process.kill(d.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
    },
  };
  if (await answers(SYSTEM_URI)) return daemons;
  // No systemd here (or the units are not enabled): start the monolithic daemons by hand.
  for (const [name, bin, sock] of [
    ['virtlogd', '/usr/sbin/virtlogd', '/run/libvirt/virtlogd-sock'],
    ['libvirtd', '/usr/sbin/libvirtd', '/run/libvirt/libvirt-sock'],
  ] as const) {
    if (!existsSync(bin)) throw new Error(`${bin} missing: scripts/setup.sh installs libvirt-daemon-system and libvirt-daemon-driver-qemu`);
    if (existsSync(sock) && name === 'virtlogd') continue;
    const pidFile = join(work, `${name}.pid`);
    await execa(bin, ['--daemon', '--pid-file', pidFile]);
    await waitUntil(async () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 30_000, `${name} pid file`);
    started.push({ name, pid: Number(readFileSync(pidFile, 'utf8').trim()) });
  }
  await waitUntil(() => answers(SYSTEM_URI), 120_000, 'libvirtd (qemu:///system)');
  return daemons;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Sshd {
  uri: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * sshd on 127.0.0.1:PORT, root login with the test key only. The libvirt URI carries the key and
 * `no_verify=1`; `command=` points at a wrapper that keeps ssh from recording the throw-away host
 * key in root's known_hosts.
 */
export async function startSshd(work: string): Promise<Sshd> {
  const dir = join(work, 'ssh');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'contextgen-e2e-host', '-f', join(dir, 'host_key')]);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'contextgen-e2e-client', '-f', join(dir, 'id')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')), { mode: 0o600 });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // The key files live under /tmp (world-writable parent): StrictModes would refuse them.
      'StrictModes no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      '',
    ].join('\n'),
  );
  // sshd needs its privilege-separation directory (the package's unit creates it on boot).
  const privsep = '/run/sshd';
  const madePrivsep = !existsSync(privsep);
  if (madePrivsep) mkdirSync(privsep, { mode: 0o755 });
  const wrapper = join(dir, 'ssh');
  writeFileSync(wrapper, '#!/bin/sh\nexec ssh -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes "$@"\n', { mode: 0o755 });
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const uri = `qemu+ssh://root@127.0.0.1:${port}/system?keyfile=${join(dir, 'id')}&no_verify=1&command=${wrapper}`;
  try {
    await waitUntil(async () => child.exitCode === null && (await answers(uri)), 60_000, `sshd on port ${port} (libvirt over ssh)`);
  } catch (e) {
    child.kill('SIGTERM');
    throw new Error(`${(e as Error).message}; sshd said: ${stderr.trim()}`);
  }
  return {
    uri,
    port,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      if (madePrivsep) rmdirSync(privsep);
    },
  };
}

/** `virsh -c URI ARGS` output lines (test-side observation, independent of contextgen's wrapper). */
export async function virshLines(uri: string, args: string[]): Promise<string[]> {
  const { stdout } = await execa('virsh', ['-q', '-c', uri, ...args]);
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

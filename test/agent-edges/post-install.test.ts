import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { emptyContext } from '../../lib/context/model.js';
import { type PostInstallOptions, SAFE_PATH, postInstallEnv, postInstallFiles, runPostInstall } from '../../agent/src/steps/post-install.js';
import { RootFs } from '../../lib/fs/index.js';
import { alive, captureLogger, cleanupTempDirs, tempDir } from './helpers.js';

// Real bash, real process groups, real files. The runner refuses to run under a root other than the live
// system, so these tests give it a temp dir marked as standing in for the live system (RootFs live: true).

const daemons: number[] = [];
afterEach(() => {
  for (const pid of daemons.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
afterAll(cleanupTempDirs);

function setup(overrides: Partial<PostInstallOptions> = {}) {
  const dir = tempDir('post-install-');
  const fs = new RootFs(dir, { live: true });
  const cap = captureLogger();
  const opts: PostInstallOptions = {
    fs,
    script: 'true\n',
    mode: 'per-instance',
    timeoutSec: 30,
    instanceId: 'vm-1',
    env: {},
    logger: cap.logger,
    killGraceMs: 1000,
    ...overrides,
  };
  // An unsafe id (a test of its refusal) has no paths: the runner must refuse it before using any.
  const safe = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(opts.instanceId) ? opts.instanceId : 'unsafe';
  const files = Object.fromEntries(Object.entries(postInstallFiles(safe)).map(([k, v]) => [k, fs.host(v)])) as Record<keyof ReturnType<typeof postInstallFiles>, string>;
  return { dir, fs, opts, cap, files };
}

describe('post-install', () => {
  it('runs the script with bash from a root-only copy, with the context in its environment and nothing of ours', async () => {
    const ctx = emptyContext();
    ctx.hostname = 'node-7.example.org';
    ctx.legacySubnet = { network: { address: '10.1.0.0', prefix: 16 }, gateway: '10.1.0.1', broadcast: '10.1.255.255' };
    ctx.dns = { nameservers: ['10.1.0.2', '10.1.0.3'], search: ['example.org', 'lab.example.org'], domain: 'example.org' };
    const out = join(tempDir(), 'env.txt');
    process.env.AGENT_SECRET_FOR_TEST = 'must-not-leak';
    const { opts, files, cap } = setup({
      script: `echo "self=$0" > ${out}\nenv >> ${out}\necho to-stdout\necho to-stderr >&2\n`,
      env: postInstallEnv(ctx, 'vm-1', '/run/contextualization/context'),
    });
    const r = await runPostInstall(opts);
    delete process.env.AGENT_SECRET_FOR_TEST;

    expect(r).toMatchObject({ ran: true, exitCode: 0, timedOut: false, scriptPath: files.script });
    const env = readFileSync(out, 'utf8');
    expect(env).toContain(`self=${files.script}\n`);
    expect(env).toContain('CONTEXT_HOSTNAME=node-7.example.org\n');
    expect(env).toContain('CONTEXT_INSTANCE_ID=vm-1\n');
    expect(env).toContain('CONTEXT_DIR=/run/contextualization/context\n');
    expect(env).toContain('GATEWAY=10.1.0.1\n');
    expect(env).toContain('NETWORK=10.1.0.0\n');
    expect(env).toContain('NETMASK=255.255.0.0\n');
    expect(env).toContain('BROADCAST=10.1.255.255\n');
    expect(env).toContain('NAMESERVER=10.1.0.2 10.1.0.3\n');
    expect(env).toContain('DOMAIN=example.org\n');
    expect(env).toContain('SEARCH=lab.example.org\n');
    expect(env).toContain(`PATH=${SAFE_PATH}\n`);
    expect(env).not.toContain('AGENT_SECRET_FOR_TEST');

    // The copy and its directory are root-only.
    expect(statSync(files.script).mode & 0o777).toBe(0o700);
    expect(statSync(files.scriptDir).mode & 0o777).toBe(0o700);
    // Output went to the log file, with a header, and was copied to the logger.
    const log = readFileSync(files.log, 'utf8');
    expect(log).toMatch(/===== post-install instance=vm-1 mode=per-instance timeout=30s started \S+ =====\nto-stdout\nto-stderr\n===== post-install instance=vm-1: exit 0, \d+ ms =====\n/);
    expect(statSync(files.log).mode & 0o777).toBe(0o600);
    const copied = cap.records.filter((x) => x.msg === 'post-install output').map((x) => x.out);
    expect(copied).toEqual(['to-stdout', 'to-stderr']);
    // Marker holds exit code and time.
    const marker = JSON.parse(readFileSync(files.marker, 'utf8'));
    expect(marker).toMatchObject({ exitCode: 0, signal: null, timedOut: false, mode: 'per-instance' });
    expect(Date.parse(marker.finishedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('records a non-zero exit code', async () => {
    const { opts, files } = setup({ script: 'echo failing\nexit 3\n' });
    const r = await runPostInstall(opts);
    expect(r).toMatchObject({ ran: true, exitCode: 3, timedOut: false });
    expect(JSON.parse(readFileSync(files.marker, 'utf8')).exitCode).toBe(3);
    expect(readFileSync(files.log, 'utf8')).toContain('exit 3');
  });

  it('on timeout sends SIGTERM to the whole process group, background children included', async () => {
    const pidFile = join(tempDir(), 'bg.pid');
    const { opts } = setup({ timeoutSec: 1, script: `sleep 1000 &\necho $! > ${pidFile}\nsleep 1000\n` });
    const t0 = Date.now();
    const r = await runPostInstall(opts);
    const bg = Number(readFileSync(pidFile, 'utf8'));
    daemons.push(bg);
    expect(r).toMatchObject({ ran: true, timedOut: true, signal: 'SIGTERM' });
    expect(r.exitCode).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(alive(bg)).toBe(false);
  });

  it('escalates to SIGKILL when the script ignores SIGTERM', async () => {
    const { opts } = setup({ timeoutSec: 1, killGraceMs: 500, script: "trap '' TERM\nwhile :; do sleep 0.1; done\n" });
    const t0 = Date.now();
    const r = await runPostInstall(opts);
    expect(r).toMatchObject({ ran: true, timedOut: true, signal: 'SIGKILL' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a daemon forked by the script does not hold the agent (output goes to a file, not a pipe)', async () => {
    const pidFile = join(tempDir(), 'daemon.pid');
    // The daemon keeps the script's stdout/stderr open: with a pipe the agent would wait 1000 s.
    const { opts, files } = setup({ script: `sleep 1000 &\necho $! > ${pidFile}\necho started\n` });
    const t0 = Date.now();
    const r = await runPostInstall(opts);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    daemons.push(pid);
    expect(r).toMatchObject({ ran: true, exitCode: 0, timedOut: false });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(alive(pid)).toBe(true); // the daemon lives on
    expect(readFileSync(files.log, 'utf8')).toContain('started\n');
  });

  it('runs once per instance by default, again for a new instance', async () => {
    const counter = join(tempDir(), 'count');
    const { opts } = setup({ script: `echo run >> ${counter}\n` });
    expect((await runPostInstall(opts)).ran).toBe(true);
    const again = await runPostInstall(opts);
    expect(again.ran).toBe(false);
    expect(again.skippedReason).toMatch(/^already ran for instance vm-1 at \S+ \(exit 0\)$/);
    expect(readFileSync(counter, 'utf8')).toBe('run\n');
    expect((await runPostInstall({ ...opts, instanceId: 'vm-2' })).ran).toBe(true);
    expect(readFileSync(counter, 'utf8')).toBe('run\nrun\n');
  });

  it('runs every time with mode per-boot', async () => {
    const counter = join(tempDir(), 'count');
    const { opts } = setup({ mode: 'per-boot', script: `echo run >> ${counter}\n` });
    await runPostInstall(opts);
    await runPostInstall(opts);
    expect(readFileSync(counter, 'utf8')).toBe('run\nrun\n');
  });

  it('never runs with mode disabled', async () => {
    const counter = join(tempDir(), 'count');
    const { opts, files } = setup({ mode: 'disabled', script: `echo run >> ${counter}\n` });
    const r = await runPostInstall(opts);
    expect(r).toMatchObject({ ran: false, skippedReason: 'post-install mode is disabled in the context' });
    expect(existsSync(counter)).toBe(false);
    expect(existsSync(files.script)).toBe(false);
  });

  it('honours the global disable file', async () => {
    const counter = join(tempDir(), 'count');
    const { opts, files, dir } = setup({ script: `echo run >> ${counter}\n` });
    mkdirSync(join(dir, 'etc/contextualization'), { recursive: true });
    writeFileSync(files.disabled, '');
    const r = await runPostInstall(opts);
    expect(r.ran).toBe(false);
    expect(r.skippedReason).toBe(`disabled by ${files.disabled}`);
    expect(existsSync(counter)).toBe(false);
  });

  it('with a trusted-instances file, runs only listed instances', async () => {
    const counter = join(tempDir(), 'count');
    const { opts, files, dir } = setup({ script: `echo "$CONTEXT_INSTANCE_ID" >> ${counter}\n` });
    mkdirSync(join(dir, 'etc/contextualization'), { recursive: true });
    writeFileSync(files.trusted, '# pinned by the operator\nvm-a\n  vm-c  # trailing comment\n');
    const a = await runPostInstall({ ...opts, instanceId: 'vm-a', env: { CONTEXT_INSTANCE_ID: 'vm-a' } });
    const b = await runPostInstall({ ...opts, instanceId: 'vm-b', env: { CONTEXT_INSTANCE_ID: 'vm-b' } });
    const c = await runPostInstall({ ...opts, instanceId: 'vm-c', env: { CONTEXT_INSTANCE_ID: 'vm-c' } });
    expect([a.ran, b.ran, c.ran]).toEqual([true, false, true]);
    expect(b.skippedReason).toBe(`instance vm-b is not listed in ${files.trusted}`);
    expect(readFileSync(counter, 'utf8')).toBe('vm-a\nvm-c\n');
  });

  it('refuses to run inside an image root and writes nothing there', async () => {
    const img = tempDir('image-root-');
    const counter = join(tempDir(), 'count');
    const r = await runPostInstall({ ...setup().opts, fs: new RootFs(img), script: `echo run >> ${counter}\n` });
    expect(r).toMatchObject({ ran: false, skippedReason: 'not running post-install inside an image root' });
    expect(existsSync(counter)).toBe(false);
    expect(existsSync(join(img, 'var'))).toBe(false);
  });

  it('dry run says what it would do and runs nothing', async () => {
    const counter = join(tempDir(), 'count');
    const { opts, files } = setup({ dryRun: true, script: `echo run >> ${counter}\n` });
    const r = await runPostInstall(opts);
    expect(r.ran).toBe(false);
    expect(r.skippedReason).toBe(`dry run: would run ${files.script} (per-instance, timeout 30 s)`);
    expect(existsSync(counter)).toBe(false);
    expect(existsSync(files.marker)).toBe(false);
  });

  it('an abort (agent stopping) kills the script like a timeout', async () => {
    const ac = new AbortController();
    const { opts } = setup({ script: 'sleep 1000\n', signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    const t0 = Date.now();
    const r = await runPostInstall(opts);
    expect(r).toMatchObject({ ran: true, timedOut: false, signal: 'SIGTERM' });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('rejects an instance id that could escape the state directory', async () => {
    const { opts } = setup({ instanceId: '../../etc' });
    await expect(runPostInstall(opts)).rejects.toThrow(/instance id = "..\/..\/etc": must be/);
  });
});

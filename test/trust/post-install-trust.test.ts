/**
 * Trust holes around post-install (issue 10 rows 1, 2, 9 and the minor ones), proved with the real binary
 * in a private "live" sandbox (test/support/live-sandbox.ts): post-install really runs there as root.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAC0, isoBytes, requireOrSkip, runBin, type Files } from '../support/fake-roots.js';
import { canSandbox, makeSandboxRoot, runInSandbox } from '../support/live-sandbox.js';

const ok = canSandbox();
const NIC = `eth0=${MAC0}`;

function ctx(opts: { id: string; mode?: string; script: string; mac?: string }): Files {
  return {
    'common/context.ini': `[context]\nversion = 1\ninstance_id = ${opts.id}\npost_install = ${opts.mode ?? 'per-instance'}\n\n[nic "${opts.mac ?? MAC0}"]\nmethod = static\naddress = 10.0.0.17/24\n`,
    'post-install': opts.script,
  };
}

function putIso(root: string, name: string, files: Files): string {
  writeFileSync(join(root, 'ctx', name), isoBytes(files));
  return `/ctx/${name}`;
}

function boot(root: string, iso: string): { local: number; final: number; out: string } {
  const l = runInSandbox(root, ['local', '--iso', iso, '--nic', NIC, '--backend', 'networkd']);
  const f = runInSandbox(root, ['final']);
  return { local: l.code, final: f.code, out: `${l.stdout}${l.stderr}${f.stdout}${f.stderr}` };
}

function status(root: string): { source: { kind: string }; stages: { stage: string; steps: { name: string; result: string; message: string }[] }[] } {
  return JSON.parse(readFileSync(join(root, 'run/contextualization/status.json'), 'utf8'));
}

function step(root: string, stage: string, name: string) {
  return status(root).stages.find((s) => s.stage === stage)?.steps.find((s) => s.name === name);
}

describe('post-install trust (live sandbox)', () => {
  it('a context the local stage refused never runs its post-install (row 1)', () => {
    if (!requireOrSkip(ok, 'root and unshare (live sandbox)')) return;
    const root = makeSandboxRoot();
    const iso = putIso(root, 'bad-mac.iso', ctx({ id: 'vm-1', mac: '52:54:00:99:99:99', script: '#!/bin/bash\nid -u > /tmp/ran\n' }));
    const r = boot(root, iso);
    expect(r.local).toBe(1);
    expect(r.out).toMatch(/52:54:00:99:99:99/);
    expect(r.final).toBe(0);
    expect(existsSync(join(root, 'tmp/ran'))).toBe(false);
    expect(existsSync(join(root, 'run/contextualization/context'))).toBe(false);
    expect(step(root, 'final', 'post-install')).toMatchObject({ result: 'skipped', message: 'no context accepted by the local stage this boot' });
  });

  it('an accepted context runs its post-install once, as root', () => {
    if (!requireOrSkip(ok, 'root and unshare (live sandbox)')) return;
    const root = makeSandboxRoot();
    const iso = putIso(root, 'good.iso', ctx({ id: 'vm-2', script: '#!/bin/bash\nid -u >> /tmp/ran\n' }));
    expect(boot(root, iso)).toMatchObject({ local: 0, final: 0 });
    expect(readFileSync(join(root, 'tmp/ran'), 'utf8')).toBe('0\n');
    expect(boot(root, iso)).toMatchObject({ local: 0, final: 0 });
    expect(readFileSync(join(root, 'tmp/ran'), 'utf8')).toBe('0\n'); // per-instance: not again
  });

  it('a pinned instance id replayed with per-boot and another script does not run it (row 2)', () => {
    if (!requireOrSkip(ok, 'root and unshare (live sandbox)')) return;
    const root = makeSandboxRoot();
    mkdirSync(join(root, 'etc/contextualization'), { recursive: true });
    writeFileSync(join(root, 'etc/contextualization/trusted-instances'), 'web01\n');
    const a = putIso(root, 'a.iso', ctx({ id: 'web01', script: '#!/bin/bash\necho a >> /tmp/a\n' }));
    expect(boot(root, a)).toMatchObject({ local: 0, final: 0 });
    expect(readFileSync(join(root, 'tmp/a'), 'utf8')).toBe('a\n');
    const b = putIso(root, 'b.iso', ctx({ id: 'web01', mode: 'per-boot', script: '#!/bin/bash\necho b >> /tmp/b\n' }));
    expect(boot(root, b)).toMatchObject({ local: 0, final: 0 });
    expect(existsSync(join(root, 'tmp/b'))).toBe(false);
    expect(step(root, 'final', 'post-install')?.message).toMatch(/already ran for instance web01 .*a context cannot switch an instance that already ran to per-boot/);
  });

  it('a per-boot instance cannot change its script, and a sha256 pin holds the script (row 2)', () => {
    if (!requireOrSkip(ok, 'root and unshare (live sandbox)')) return;
    const root = makeSandboxRoot();
    const a = putIso(root, 'a.iso', ctx({ id: 'pb', mode: 'per-boot', script: '#!/bin/bash\necho a >> /tmp/a\n' }));
    boot(root, a);
    boot(root, a);
    expect(readFileSync(join(root, 'tmp/a'), 'utf8')).toBe('a\na\n'); // per-boot runs every boot
    const b = putIso(root, 'b.iso', ctx({ id: 'pb', mode: 'per-boot', script: '#!/bin/bash\necho b >> /tmp/b\n' }));
    boot(root, b);
    expect(existsSync(join(root, 'tmp/b'))).toBe(false);
    expect(step(root, 'final', 'post-install')?.message).toMatch(/instance pb ran another script \(sha256 [0-9a-f]{64}\); a changed script needs a new instance id/);

    const pinned = makeSandboxRoot();
    mkdirSync(join(pinned, 'etc/contextualization'), { recursive: true });
    writeFileSync(join(pinned, 'etc/contextualization/trusted-instances'), `web02 sha256:${'0'.repeat(64)}\n`);
    boot(pinned, putIso(pinned, 'c.iso', ctx({ id: 'web02', script: '#!/bin/bash\necho c >> /tmp/c\n' })));
    expect(existsSync(join(pinned, 'tmp/c'))).toBe(false);
    expect(step(pinned, 'final', 'post-install')?.message).toMatch(/is not the one pinned in/);
  });

  it('the post-install log is never written through a symlink, nor into a directory someone else owns (row 9)', () => {
    if (!requireOrSkip(ok, 'root and unshare (live sandbox)')) return;
    const root = makeSandboxRoot();
    mkdirSync(join(root, 'var/log/contextualization'), { recursive: true, mode: 0o750 });
    symlinkSync('/tmp/stolen', join(root, 'var/log/contextualization/post-install.log'));
    const r = boot(root, putIso(root, 's.iso', ctx({ id: 'vm-3', script: '#!/bin/bash\necho secret-token\n' })));
    expect(r.final).toBe(3);
    expect(existsSync(join(root, 'tmp/stolen'))).toBe(false);
    expect(r.out).toMatch(/post-install\.log: a symbolic link where the log file is expected; refusing to write the post-install log/);

    const other = makeSandboxRoot();
    mkdirSync(join(other, 'var/log/contextualization'), { recursive: true, mode: 0o750 });
    chownSync(join(other, 'var/log/contextualization'), 1000, 1000);
    const o = boot(other, putIso(other, 's.iso', ctx({ id: 'vm-4', script: '#!/bin/bash\necho secret-token\n' })));
    expect(o.final).toBe(3);
    expect(o.out).toMatch(/var\/log\/contextualization: owned by uid 1000, not 0; refusing to write the post-install log there/);
    expect(existsSync(join(other, 'var/log/contextualization/post-install.log'))).toBe(false);
  });

  it('final --iso records where the context came from (minor)', () => {
    if (!requireOrSkip(ok, 'root and unshare (live sandbox)')) return;
    const root = makeSandboxRoot();
    const iso = putIso(root, 'f.iso', ctx({ id: 'vm-5', script: '#!/bin/bash\ntrue\n' }));
    expect(runInSandbox(root, ['final', '--iso', iso]).code).toBe(0);
    expect(status(root).source).toMatchObject({ kind: 'iso', path: iso });
  });
});

describe('command line (minor)', () => {
  it('--nic without a MAC is a usage error (exit 2) with one line', () => {
    const r = runBin(['local', '--dry-run', '--root', '/nonexistent', '--nic', 'eth0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['contextualization: --nic "eth0": expected NAME=MAC, e.g. eth0=52:54:00:12:34:56']);
  });
});

import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contextHash } from '../../lib/context/index.js';
import { RootFs } from '../../lib/fs/index.js';
import { decide } from '../../agent/src/stages/decide.js';
import {
  identifyInstance,
  instanceIdFor,
  readInstanceRecord,
  withNetworkApplied,
  writeInstanceRecord,
  type NetworkSummary,
} from '../../agent/src/state/instance.js';
import { StageRecorder, formatStatus, formatSummaryLine, mergeStage, readStatus, writeStatus } from '../../agent/src/state/status.js';
import { captureLogger, cleanupTempDirs, tempDir } from './helpers.js';

afterAll(cleanupTempDirs);

describe('status file', () => {
  it('round-trips through /run/contextualization/status.json, written atomically and world-readable', async () => {
    const dir = tempDir('status-');
    const fs = new RootFs(dir);
    const paths = { statusFile: join(dir, 'run/contextualization/status.json') };
    expect(readStatus(fs)).toBeUndefined();

    const rec = new StageRecorder('local');
    await rec.run('discover', () => ({ result: 'ok', message: '/dev/sr0 (CONTEXT, reader)' }));
    await rec.run('network', async () => ({ result: 'ok', message: 'networkd: 2 files' }));
    await expect(rec.run('hostname', () => Promise.reject(new Error('hostnamectl failed\nexit 1')))).rejects.toThrow('hostnamectl');
    await rec.run('post-install', () => ({ result: 'skipped', message: 'runs in the final stage' }));
    const local = rec.finish();
    expect(local.result).toBe('failed');
    expect(local.steps.map((s) => [s.name, s.result])).toEqual([
      ['discover', 'ok'],
      ['network', 'ok'],
      ['hostname', 'failed'],
      ['post-install', 'skipped'],
    ]);
    for (const s of local.steps) {
      expect(s.durationMs).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(Date.parse(s.startedAt))).toBe(false);
    }

    const source = { kind: 'device' as const, path: '/dev/sr0', label: 'CONTEXT', method: 'reader' as const };
    const status = mergeStage(undefined, local, { agentVersion: '0.1.0', instanceId: 'vm-1', source });
    writeStatus(fs, status);
    expect(statSync(paths.statusFile).mode & 0o777).toBe(0o644);
    expect(readStatus(fs)).toEqual(status);

    // The final stage keeps the local stage of the same instance.
    const fin = new StageRecorder('final');
    await fin.run('post-install', () => ({ result: 'ok', message: 'exit 0 in 12 ms' }));
    const both = mergeStage(readStatus(fs), fin.finish(), { agentVersion: '0.1.0', instanceId: 'vm-1' });
    writeStatus(fs, both);
    const back = readStatus(fs);
    expect(back?.stages.map((s) => s.stage)).toEqual(['local', 'final']);
    expect(back?.result).toBe('failed');
    expect(back?.source).toEqual(source);

    expect(formatSummaryLine(back!)).toBe(
      'contextualization final: failed (instance vm-1, device /dev/sr0 label CONTEXT via reader): post-install ok',
    );
    expect(formatSummaryLine(status)).toBe(
      'contextualization local: failed (instance vm-1, device /dev/sr0 label CONTEXT via reader): discover ok, network ok, hostname failed, post-install skipped; hostname: hostnamectl failed | exit 1',
    );
    const text = formatStatus(back!);
    expect(text).toContain('contextualization 0.1.0: FAILED');
    expect(text).toContain('instance: vm-1');
    expect(text).toMatch(/stage local: failed in \d+ ms/);
    expect(text).toMatch(/\n {4}hostname {6}failed +\d+ ms {2}hostnamectl failed \| exit 1\n/);
  });

  it('a new instance drops the stages of the previous one', () => {
    const stage = { stage: 'local', result: 'ok' as const, startedAt: new Date().toISOString(), durationMs: 1, steps: [] };
    const a = mergeStage(undefined, { ...stage, stage: 'final' }, { agentVersion: '1', instanceId: 'old' });
    const b = mergeStage(a, stage, { agentVersion: '1', instanceId: 'new' });
    expect(b.stages.map((s) => s.stage)).toEqual(['local']);
    expect(b.source).toEqual({ kind: 'none' });
  });

  it('a corrupt status file is an error naming the file', () => {
    const dir = tempDir('status-');
    mkdirSync(join(dir, 'run/contextualization'), { recursive: true });
    const file = join(dir, 'run/contextualization/status.json');
    writeFileSync(file, '{"schema": 1');
    expect(() => readStatus(new RootFs(dir))).toThrow(`${file}: not valid JSON`);
    writeFileSync(file, '{"hello": "world"}');
    expect(() => readStatus(new RootFs(dir))).toThrow(`${file}: not a contextualization status (schema 1)`);
  });
});

describe('instance record', () => {
  const staticNet: NetworkSummary = {
    kind: 'static',
    backend: 'networkd',
    nics: [{ name: 'ens3', mac: '02:00:0a:00:00:05', method: 'static', ipv4: '10.0.0.5/24' }],
  };

  it('uses the explicit id, else the context hash', () => {
    const files = new Map([['common/network', Buffer.from('GATEWAY=10.0.0.1\n')]]);
    expect(instanceIdFor('vm-42', files)).toBe('vm-42');
    expect(instanceIdFor(undefined, files)).toBe(contextHash(files));
    expect(instanceIdFor(undefined, files)).toMatch(/^[0-9a-f]{64}$/);
    expect(() => instanceIdFor('../x', files)).toThrow('common/context.ini: instance id = "../x": must be');
  });

  it('tells the first boot of an instance from a reboot, and persists across runs', () => {
    const dir = tempDir('instance-');
    const fs = new RootFs(dir);
    const file = join(dir, 'var/lib/contextualization/instance.json');
    expect(readInstanceRecord(fs)).toBeUndefined();
    const t1 = new Date('2026-01-01T00:00:00Z');
    const first = identifyInstance(readInstanceRecord(fs), 'vm-1', t1);
    expect(first.firstBoot).toBe(true);
    writeInstanceRecord(fs, withNetworkApplied(first.record, staticNet, t1));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const t2 = new Date('2026-01-02T00:00:00Z');
    const again = identifyInstance(readInstanceRecord(fs), 'vm-1', t2);
    expect(again.firstBoot).toBe(false);
    expect(again.record).toMatchObject({ id: 'vm-1', firstSeen: t1.toISOString(), lastSeen: t2.toISOString() });
    expect(again.record.lastApplied?.network).toEqual(staticNet);

    const other = identifyInstance(readInstanceRecord(fs), 'vm-2', t2);
    expect(other.firstBoot).toBe(true);
    expect(other.record.lastApplied).toBeUndefined();
  });

  it('without a context, keeps a static config from an earlier instance instead of DHCP', () => {
    const rec = withNetworkApplied(identifyInstance(undefined, 'vm-1').record, staticNet, new Date('2026-01-01T00:00:00Z'));
    const none = { kind: 'none' as const, reason: 'no context CD' };
    expect(decide(none, rec)).toEqual({
      action: 'keep-previous',
      reason: 'no context; keeping the static network config applied for instance vm-1 on 2026-01-01T00:00:00.000Z',
    });
    const dhcp = withNetworkApplied(rec, { kind: 'dhcp-fallback', nics: [] });
    expect(decide(none, dhcp).action).toBe('dhcp-fallback');
    expect(decide(none, undefined)).toEqual({ action: 'dhcp-fallback', reason: 'no context and no earlier instance' });
    expect(decide({ kind: 'refused', source: { kind: 'device', path: '/dev/sr0' }, reason: 'x' }, undefined))
      .toEqual({ action: 'dhcp-fallback', reason: 'context refused and no earlier instance' });
  });

  it('a corrupt record is logged and treated as none (it must not stop the boot)', () => {
    const dir = tempDir('instance-');
    mkdirSync(join(dir, 'var/lib/contextualization'), { recursive: true });
    const file = join(dir, 'var/lib/contextualization/instance.json');
    writeFileSync(file, 'garbage');
    const cap = captureLogger();
    expect(readInstanceRecord(new RootFs(dir), cap.logger)).toBeUndefined();
    expect(cap.messages()).toContain(`${file}: corrupt instance record; treating it as none`);
    expect(readFileSync(file, 'utf8')).toBe('garbage');
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LockError, acquireLock, processStartTime } from '../../agent/src/state/lock.js';
import { captureLogger, cleanupTempDirs, tempDir } from './helpers.js';

afterAll(cleanupTempDirs);

function runHolder(lockFile: string, journal: string, holdMs: number): Promise<number> {
  const script = join(import.meta.dirname, 'fixtures/lock-holder.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, lockFile, journal, String(holdMs)], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? -1));
  });
}

/** A pid that certainly belongs to no process any more. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

describe('run lock', () => {
  it('two concurrent processes never hold it at the same time', async () => {
    const dir = tempDir('lock-');
    mkdirSync(join(dir, 'run'), { recursive: true });
    const lockFile = join(dir, 'run/lock');
    const journal = join(dir, 'journal');
    writeFileSync(journal, '');
    const codes = await Promise.all([runHolder(lockFile, journal, 700), runHolder(lockFile, journal, 700)]);
    expect(codes).toEqual([0, 0]);
    const lines = readFileSync(journal, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    const [s1, e1, s2, e2] = lines.map((l) => l.split(' ')) as [string[], string[], string[], string[]];
    expect([s1[0], e1[0], s2[0], e2[0]]).toEqual(['start', 'end', 'start', 'end']);
    expect(e1[1]).toBe(s1[1]);
    expect(e2[1]).toBe(s2[1]);
    expect(s1[1]).not.toBe(s2[1]);
    expect(existsSync(lockFile)).toBe(false);
  }, 30_000);

  it('a second holder waits, then fails with a clear error after its bounded wait', async () => {
    const lockFile = join(tempDir('lock-'), 'lock');
    const first = await acquireLock({ lockFile });
    expect(readFileSync(lockFile, 'utf8')).toBe(`${process.pid} ${processStartTime('/proc', process.pid)}\n`);
    const t0 = Date.now();
    await expect(acquireLock({ lockFile, timeoutMs: 400, pollMs: 50 })).rejects.toThrow(
      new LockError(`${lockFile}: another contextualization run (pid ${process.pid}) holds the lock; gave up after 0.4 s`),
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    first.release();
    const second = await acquireLock({ lockFile, timeoutMs: 400 });
    second.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  it('a waiter gets the lock as soon as the holder releases it', async () => {
    const lockFile = join(tempDir('lock-'), 'lock');
    const first = await acquireLock({ lockFile });
    setTimeout(() => first.release(), 300);
    const t0 = Date.now();
    const second = await acquireLock({ lockFile, timeoutMs: 5000, pollMs: 50 });
    expect(Date.now() - t0).toBeLessThan(1000);
    second.release();
  });

  it('breaks a stale lock left by a process that is gone', async () => {
    const lockFile = join(tempDir('lock-'), 'lock');
    writeFileSync(lockFile, `${deadPid()} 12345\n`);
    const cap = captureLogger();
    const t0 = Date.now();
    const lock = await acquireLock({ lockFile, timeoutMs: 2000, logger: cap.logger });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(cap.messages()).toContain('breaking stale lock');
    lock.release();
  });

  it('treats a live pid with another start time as stale (pid reused after a crash)', async () => {
    const lockFile = join(tempDir('lock-'), 'lock');
    writeFileSync(lockFile, `${process.pid} 1\n`);
    const lock = await acquireLock({ lockFile, timeoutMs: 1000 });
    expect(readFileSync(lockFile, 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+\\n$`));
    lock.release();
  });

  it('an unreadable lock is respected while fresh (its writer may be mid-write) and broken once old', async () => {
    const lockFile = join(tempDir('lock-'), 'lock');
    writeFileSync(lockFile, '');
    await expect(acquireLock({ lockFile, timeoutMs: 300, pollMs: 50 })).rejects.toThrow(/pid unknown/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockFile, old, old);
    const lock = await acquireLock({ lockFile, timeoutMs: 300 });
    lock.release();
  });

  it('release leaves a lock that is no longer ours alone', async () => {
    const lockFile = join(tempDir('lock-'), 'lock');
    const lock = await acquireLock({ lockFile });
    writeFileSync(lockFile, `${process.pid} someone-else\n`);
    lock.release();
    expect(readFileSync(lockFile, 'utf8')).toBe(`${process.pid} someone-else\n`);
  });
});

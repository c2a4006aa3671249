/**
 * Crash safety of the real agent binary: SIGKILL it at exact points of its run (strace fault injection:
 * the Nth rename, fsync or unlink of the process gets SIGKILL instead of running), then check
 *  - every file in the root is either its pre-run version or its clean-run version, never torn;
 *  - a plain rerun completes the job: the tree equals a clean run's;
 *  - the backups hold the pristine originals.
 * Falls back to nothing: without strace the suite is skipped with a message (fails under CI=true).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, EXTENDED, MAC0, PRISTINE, SNOOZE, SNOOZE_MAC, isoOf, newRoot, requireOrSkip, runBin, snapshot, tmp } from '../support/fake-roots.js';

const hasStrace = (() => { try { execFileSync('strace', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; } })();

/** Files whose content legitimately differs run to run (timestamps) or that are process state. */
const VOLATILE = new Set(['/run/contextualization/status.json', '/var/lib/contextualization/instance.json', '/run/contextualization/lock']);
const isTemp = (p: string) => /\.tmp$|\/\.context-(new|old)-/.test(p);
/** Temp files still there after the rerun, by scenario: see the it.fails below. */
const leftoversAfterRerun: string[] = [];

function files(s: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(s).filter(([, v]) => !v.startsWith('dir:')));
}

interface Scenario { name: string; prepare: (root: string) => void; args: (root: string) => string[] }

function scenarios(): Scenario[] {
  const ext = isoOf(EXTENDED);
  const snooze = isoOf(SNOOZE);
  return [
    {
      name: 'first boot, ifupdown, extended context',
      prepare: (r) => newRoot('ifupdown', r),
      args: (r) => ['local', '--iso', ext, '--root', r, '--nic', `eth0=${MAC0}`],
    },
    {
      name: 'new instance over an old one, networkd (stale files removed)',
      prepare: (r) => {
        newRoot('networkd', r);
        const first = runBin(['local', '--iso', snooze, '--root', r, '--nic', `eth0=${SNOOZE_MAC}`]);
        if (first.code !== 0) throw new Error(`setup run failed: ${first.stderr}`);
      },
      args: (r) => ['local', '--iso', ext, '--root', r, '--nic', `eth0=${SNOOZE_MAC}`, '--nic', `eth1=${MAC0}`],
    },
  ];
}

describe('crash safety: SIGKILL at exact syscalls (strace fault injection)', () => {
  for (const sc of scenarios()) {
    it(`${sc.name}: every kill point leaves old-or-new files; a rerun completes; backups hold the originals`, async () => {
      if (!requireOrSkip(hasStrace, 'strace')) return;
      // The template root, its state before the run, and a clean run's result.
      const template = tmp('hard-crash-tpl-');
      sc.prepare(template);
      const before = files(snapshot(template));
      const clean = tmp('hard-crash-clean-');
      cpSync(template, clean, { recursive: true, verbatimSymlinks: true });
      const cleanRun = runBin(sc.args(clean));
      expect(cleanRun.code, cleanRun.stderr).toBe(0);
      const after = files(snapshot(clean));

      // Kill points: count the syscalls of a clean run, then kill at each one.
      const points: [string, number][] = [];
      const count = (sys: string) => {
        const probe = tmp('hard-crash-probe-');
        cpSync(template, probe, { recursive: true, verbatimSymlinks: true });
        const out = join(tmp('hard-crash-st-'), 'trace');
        spawnSync('strace', ['-f', '-qq', '-e', `trace=${sys}`, '-o', out, BIN, ...sc.args(probe)]);
        return readFileSync(out, 'utf8').split('\n').filter((l) => l.includes(`${sys}(`) && !l.includes('resumed')).length;
      };
      for (const sys of ['rename', 'unlink', 'fsync']) {
        const n = count(sys);
        for (let i = 1; i <= n; i++) points.push([sys, i]);
      }
      expect(points.length).toBeGreaterThanOrEqual(20);

      let killed = 0;
      for (const [sys, n] of points) {
        const at = `${sys} #${n}`;
        await new Promise((r) => setImmediate(r)); // let vitest's worker RPC breathe between blocking runs
        const root = tmp('hard-crash-');
        cpSync(template, root, { recursive: true, verbatimSymlinks: true });
        const r = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', `trace=${sys}`, '-e', `inject=${sys}:signal=SIGKILL:when=${n}`, BIN, ...sc.args(root)], { encoding: 'utf8', timeout: 60_000 });
        if (r.status !== 0) killed++;

        // 1. Every file is the old or the new version; temp files are the only extras.
        const mid = files(snapshot(root));
        for (const [p, v] of mid) {
          if (isTemp(p)) continue;
          if (VOLATILE.has(p)) {
            if (p.endsWith('.json')) expect(() => JSON.parse(readFileSync(join(root, p), 'utf8')), `${at}: ${p} torn`).not.toThrow();
            continue;
          }
          if (v !== before.get(p) && v !== after.get(p)) throw new Error(`${at}: ${p} is neither the old nor the new version`);
        }
        for (const p of before.keys()) {
          if (mid.has(p) || !after.has(p) || VOLATILE.has(p)) continue;
          // publishContext swaps directories with two renames (old aside, new in): between them the
          // published copy lives only in .context-old-*. /run is rebuilt by the rerun; the data is not lost.
          const aside = /^\/run\/contextualization\/context\/(.*)$/.exec(p);
          if (aside && [...mid.keys()].some((q) => q.endsWith(`/${aside[1]}`) && q.includes('/.context-old-'))) continue;
          throw new Error(`${at}: ${p} vanished`);
        }

        // 2. A rerun completes the job: the tree equals a clean run's.
        const again = runBin(sc.args(root));
        expect(again.code, `${at}: rerun: ${again.stderr}`).toBe(0);
        const final = files(snapshot(root));
        const strip = (m: Map<string, string>) => new Map([...m].filter(([p]) => !VOLATILE.has(p)));
        const leftovers = [...final.keys()].filter(isTemp);
        leftoversAfterRerun.push(...leftovers.map((p) => `${at}: ${p}`));
        // Litter must at least be invisible to every backend: hidden names ending in .tmp, or in the backup dir.
        for (const p of leftovers) expect(p, at).toMatch(/\/\.[^/]+\.tmp$|^\/var\/lib\/contextualization\/backup\/.*\.tmp$/);
        const real = (m: Map<string, string>) => new Map([...strip(m)].filter(([p]) => !isTemp(p)));
        expect(Object.fromEntries(real(final)), at).toEqual(Object.fromEntries(strip(after)));

        // 3. Backups hold the pristine originals.
        for (const [p, content] of Object.entries(PRISTINE)) {
          const orig = join(root, '/var/lib/contextualization/backup', `${p}.orig`);
          if (final.has(`/var/lib/contextualization/backup${p}.orig`)) expect(readFileSync(orig, 'utf8'), `${at}: ${p}.orig`).toBe(content);
        }
      }
      console.log(`${sc.name}: ${points.length} kill points, ${killed} runs killed`);
      expect(killed).toBeGreaterThanOrEqual(Math.floor(points.length * 0.8));
    }, 300_000);
  }

  // A killed run's temp file (.<name>.<pid>.<hex>.tmp) is swept by the next write of the same target.
  it('a rerun removes the temp files a killed run left behind', () => {
    if (!hasStrace) throw new Error('strace missing');
    expect(leftoversAfterRerun).toEqual([]);
  });
});

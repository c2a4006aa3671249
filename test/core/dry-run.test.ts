/**
 * --dry-run is pure: for every command that takes it, on every backend's root, fresh and after a real
 * run (a used disk), reading the context from an ISO or discovering it on a device, nothing on disk
 * changes, in the root or in the host's /run.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXTENDED, MAC0, ROOTS, isoBytes, isoOf, newRoot, runBin, snapshot } from '../support/fake-roots.js';

const hostRun = (): string => (existsSync('/run/contextualization') ? JSON.stringify(snapshot('/run/contextualization')) : 'absent');

describe('--dry-run changes nothing anywhere', () => {
  for (const kind of Object.keys(ROOTS)) {
    it(`${kind}: local, final and boot, by --iso and by discovery, fresh and after a real run`, () => {
      const iso = isoOf(EXTENDED);
      const root = newRoot(kind);
      mkdirSync(join(root, 'sys/block/sr0'), { recursive: true });
      mkdirSync(join(root, 'dev'), { recursive: true });
      writeFileSync(join(root, 'dev/sr0'), isoBytes(EXTENDED), { flag: 'w' });
      const nic = ['--nic', `eth0=${MAC0}`];
      const check = (): void => {
        for (const cmd of ['local', 'final', 'boot']) {
          for (const src of [['--iso', iso], ['--timeout', '1']]) {
            const before = snapshot(root);
            const host = hostRun();
            const r = runBin([cmd, '--dry-run', '--root', root, ...nic, ...src]);
            expect(r.code, `${cmd} ${src.join(' ')}: ${r.stderr}`).toBe(0);
            expect(snapshot(root), `${cmd} --dry-run ${src.join(' ')} changed the root`).toEqual(before);
            expect(hostRun()).toBe(host);
          }
        }
      };
      check();
      expect(runBin(['local', '--root', root, ...nic, '--iso', iso]).code).toBe(0);
      check();
    });
  }
});

describe('limits: one definition (issue 10 row 10)', () => {
  it('the agent accepts a 604-file context (contextgen and the docs allow 1024)', () => {
    const files: Record<string, string> = { ...EXTENDED };
    for (let i = 0; i < 600; i++) files[`data/f${i}`] = `${i}\n`;
    const root = newRoot('ifupdown');
    const r = runBin(['local', '--dry-run', '--root', root, '--nic', `eth0=${MAC0}`, '--iso', isoOf(files)]);
    expect(r.stderr).not.toMatch(/limit/);
    expect(r.code).toBe(0);
  });
});

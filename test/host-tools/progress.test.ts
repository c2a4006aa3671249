/** The batch progress bar goes to the Io's progress stream, never to process.stderr behind the Io. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../host-tools/src/program.js';
import { makeIo, tempDir, TEMPLATE } from './helpers.js';

/** A terminal-like stream (isTTY, columns) that keeps what is drawn on it. */
function fakeTerminal(): Writable & { isTTY: boolean; columns: number; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write(c, _e, done) { chunks.push(String(c)); done(); } });
  return Object.assign(w, { isTTY: true, columns: 100, text: () => chunks.join('') });
}

function inventory(dir: string): string {
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '16M']);
  writeFileSync(join(dir, 'inv.ini'), `[defaults]\nbridge = virbr0\nbase_image = base.qcow2\npool = 192.168.122.0/24\ngateway = 192.168.122.1\ntemplate = ${TEMPLATE}\n\n[group web]\ncount = 3\nname = web{1..3}\n`);
  return 'inv.ini';
}

afterEach(() => vi.restoreAllMocks());

describe('contextgen batch progress', () => {
  it('draws on io.progress when it is a terminal, and writes nothing to process.stderr', async () => {
    const dir = tempDir('cg-progress-');
    const inv = inventory(dir);
    const stderr = vi.spyOn(process.stderr, 'write');
    const term = fakeTerminal();
    const io = { ...makeIo(dir), isTTY: true, progress: term };
    const code = await main(['node', 'contextgen', 'batch', inv, '-o', join(dir, 'out')], io);
    expect(io.lines.err).toEqual([]);
    expect(code).toBe(0);
    expect(term.text()).toMatch(/writing .* 3\/3 VMs/);
    expect(stderr).not.toHaveBeenCalled();
  });

  it('draws nothing without a terminal (a pipe or log gets the summary line only)', async () => {
    const dir = tempDir('cg-progress-');
    const inv = inventory(dir);
    const term = fakeTerminal();
    const io = { ...makeIo(dir), isTTY: false, progress: term };
    expect(await main(['node', 'contextgen', 'batch', inv, '-o', join(dir, 'out')], io)).toBe(0);
    expect(term.text()).toBe('');
    expect(io.lines.out.at(-1)).toMatch(/^batch: 3 VMs/);
  });
});

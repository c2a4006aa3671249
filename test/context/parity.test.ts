/**
 * One catalog, one verdict: a table of values goes through the agent's reader (the built binary,
 * `contextualization local --dry-run --dir`: its "parse ok|failed" step), `contextgen validate DIR`
 * (the same value written in a context directory) and `contextgen iso` with the matching flag, and
 * all three accept or refuse each value alike. Before lib/context/rules.ts was used everywhere,
 * `--nic br-lan=dhcp` was refused as a malformed MAC (the dash) while the agent read br-lan fine,
 * and `--route ... metric 3000000000` was refused while the agent accepts metrics up to 2^32-1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, MAC0, REPO, runBin } from '../support/fake-roots.js';

const CONTEXTGEN = process.env.CONTEXTGEN_BIN ?? join(REPO, 'dist/contextgen');
const work = mkdtempSync(join(tmpdir(), 'parity-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

/** A context directory holding `ini` as common/context.ini (and `routes` as common/routes). */
function contextDir(ini: string, routes?: string): string {
  const dir = join(work, `c${n++}`);
  mkdirSync(join(dir, 'common'), { recursive: true });
  writeFileSync(join(dir, 'common/context.ini'), `[context]\nversion = 1\n${ini}`);
  if (routes !== undefined) writeFileSync(join(dir, 'common/routes'), `${routes}\n`);
  return dir;
}

/** Whether the agent's parse step accepted the directory (the plan may still fail: e.g. a NIC the guest lacks). */
function agentAccepts(dir: string): boolean {
  const root = join(work, `root${n++}`);
  mkdirSync(root);
  const r = runBin(['local', '--dry-run', '--dir', dir, '--root', root, '--nic', `eth0=${MAC0}`]);
  const summary = `${r.stdout}\n${r.stderr}`;
  if (/parse ok/.test(summary)) return true;
  if (/parse failed/.test(summary)) return false;
  // --dir is read and checked before the stages run: a refused context is exit 1 with one line per problem.
  if (r.code === 1 && r.stderr.includes(`${dir}: common/`)) return false;
  throw new Error(`no parse verdict from the agent (exit ${r.code}):\n${summary}`);
}

function contextgen(args: string[]): { code: number; err: string } {
  const r = spawnSync(CONTEXTGEN, args, { cwd: work, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`contextgen ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return { code: r.status!, err: r.stderr };
}

const validates = (dir: string): boolean => contextgen(['validate', dir]).code === 0;
const isoAccepts = (flags: string[]): boolean => contextgen(['iso', '-o', join(work, `o${n++}.iso`), ...flags]).code === 0;

interface Case { value: string; accepted: boolean }
const table = (accepted: string[], refused: string[]): Case[] => [
  ...accepted.map((value) => ({ value, accepted: true })),
  ...refused.map((value) => ({ value, accepted: false })),
];

const NIC_LABELS = table(
  ['br-lan', 'eth0.100', 'a'.repeat(15), '52-54-00-AB-CD-EF'],
  ['a'.repeat(16), '-eth0', 'eth:0', '01:00:5e:00:00:01', '00:00:00:00:00:00', '52:54:00:12:34'],
);
const ADDRESSES = table(
  ['192.168.1.5/24', 'fd00::5/64'],
  ['192.168.1.0/24', '192.168.1.5', '192.168.1.5/33', '10.0.0.1/0', 'fd00::5/129'],
);
const HOSTNAMES = table(
  ['web01.example.internal', `${'a'.repeat(63)}.example`],
  [`${'a'.repeat(64)}.example`, 'web_01', 'web01.', '10.0.0.1', 'wéb'],
);
const METRICS = table(['0', '3000000000', '4294967295'], ['4294967296', '-1', '1e3']);

describe('the agent and contextgen accept and refuse the same values', () => {
  it.each(NIC_LABELS)('nic label %o', ({ value, accepted }) => {
    const dir = contextDir(`[nic "${value}"]\nmethod = dhcp\n`);
    expect({ agent: agentAccepts(dir), validate: validates(dir), iso: isoAccepts(['--nic', `${value}=dhcp`]) })
      .toEqual({ agent: accepted, validate: accepted, iso: accepted });
  });

  it.each(ADDRESSES)('address %o', ({ value, accepted }) => {
    const key = value.includes(':') ? 'ipv6' : 'address';
    const dir = contextDir(`[nic "eth0"]\nmethod = static\n${key} = ${value}\n`);
    expect({ agent: agentAccepts(dir), validate: validates(dir), iso: isoAccepts(['--nic', `eth0=${value}`]) })
      .toEqual({ agent: accepted, validate: accepted, iso: accepted });
  });

  it.each(HOSTNAMES)('hostname %o', ({ value, accepted }) => {
    const dir = contextDir(`hostname = ${value}\n`);
    expect({ agent: agentAccepts(dir), validate: validates(dir), iso: isoAccepts(['--hostname', value]) })
      .toEqual({ agent: accepted, validate: accepted, iso: accepted });
  });

  it.each(METRICS)('route metric %o', ({ value, accepted }) => {
    const dir = contextDir('', `up ip route add 10.9.0.0/16 dev eth0 metric ${value}`);
    expect({ agent: agentAccepts(dir), validate: validates(dir), iso: isoAccepts(['--route', `10.9.0.0/16 dev eth0 metric ${value}`]) })
      .toEqual({ agent: accepted, validate: accepted, iso: accepted });
  });

  it('runs the built binaries', () => {
    expect(existsSync(BIN) && existsSync(CONTEXTGEN)).toBe(true);
  });
});

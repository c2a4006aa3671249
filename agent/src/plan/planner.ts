/**
 * The pure core of the agent: (context, facts about the guest) -> Plan. No I/O here; the shell
 * (agent/src/stages/local.ts, stages/disable.ts) gathers the facts and applies the result, and --dry-run prints it.
 */
import type { Context } from '../../../lib/context/model.js';
import { distroConfigures, planDistroConfig } from '../network/distro/index.js';
import { resolveNetwork } from '../network/resolve.js';
import type { NetworkConfig, NetworkRenderer, SystemNic } from '../types/network.js';
import { planDns } from '../steps/dns.js';
import { planHostname } from '../steps/hostname.js';
import { planAuthorizedKeys } from '../steps/ssh-keys.js';
import { emptyPlan, info, mergePlans, warn, type Facts, type Plan } from '../types/plan.js';

export type { Facts } from '../types/plan.js';


export interface PlannedContext {
  plan: Plan;
  network: NetworkConfig;
}

export function planContext(ctx: Context, facts: Facts, renderer: NetworkRenderer): PlannedContext {
  const { config, notes } = resolveNetwork(ctx, facts.nics);
  const net = renderNetwork(config, renderer);
  net.notes.push(...notes, ...(facts.sys ? renderer.inspect?.(facts.sys, config) ?? [] : []));
  const dns = planDns(ctx.dns, renderer.name, facts.resolvConf);
  const primary = config.nics.find((n) => n.primary);
  const host = ctx.hostname
    ? planHostname({ hostname: ctx.hostname, domain: ctx.dns.domain, address: primary?.ipv4?.address.address, currentHosts: facts.currentHosts })
    : emptyPlan();
  const keys = ctx.authorizedKeys.length || facts.currentAuthorizedKeys !== undefined
    ? planAuthorizedKeys(ctx.authorizedKeys, facts.currentAuthorizedKeys)
    : emptyPlan();
  const plan = withDistro(sparingForeign(mergePlans(net, dns, host, keys), facts.foreign), facts, renderer, config, net);
  plan.remove = staleOwned(plan, facts.existingOwned);
  return { plan, network: config };
}

/** DHCP on one NIC through the system's own backend (its DHCP client), when no context was found. */
export function planDhcpFallback(nic: SystemNic, facts: Facts, renderer: NetworkRenderer): PlannedContext {
  const config: NetworkConfig = {
    nics: [{ name: nic.name, mac: nic.mac, method: 'dhcp', routes: [], deleteRoutes: [], primary: true }],
    dns: { nameservers: [], search: [] },
  };
  const resolved = config.nics[0]!;
  // Where the distribution's own (restored) configuration already brings the NIC up, ours would be a
  // second DHCP definition (two clients): write none, only restore theirs.
  const theirs = facts.sys !== undefined && distroConfigures(facts.sys, renderer.name, resolved);
  const rendered = theirs ? emptyPlan() : renderNetwork(config, renderer);
  if (theirs) rendered.notes.push(info(`DHCP on ${nic.name}: the distribution's own configuration brings it up; no file of ours`, nic.name));
  const plan = withDistro(sparingForeign(rendered, facts.foreign), facts, renderer, { ...config, nics: [] }, rendered);
  plan.notes.push(...(facts.sys && !theirs ? renderer.inspect?.(facts.sys, config) ?? [] : []));
  plan.remove = staleOwned(plan, facts.existingOwned);
  return { plan, network: config };
}

/**
 * The agent handing the network back to the distribution (`contextualization disable`): every
 * distribution file we edited is restored, every network file of ours is removed, nothing else is
 * touched (hostname, resolv.conf, keys stay as the last context left them). A NIC the restored
 * configuration does not bring up is named in a note: from the next boot on it has no configuration.
 */
export function planHandBack(facts: Facts, renderer: NetworkRenderer): PlannedContext {
  const config: NetworkConfig = { nics: [], dns: { nameservers: [], search: [] } };
  const plan = withDistro(emptyPlan(), facts, renderer, config, emptyPlan());
  plan.remove = staleOwned(plan, facts.existingOwned);
  if (facts.sys) {
    for (const n of facts.nics.filter((x) => x.physical)) {
      const resolved = { name: n.name, mac: n.mac, method: 'dhcp' as const, routes: [], deleteRoutes: [], primary: false };
      if (!distroConfigures(facts.sys, renderer.name, resolved)) {
        plan.notes.push(warn(`${n.name} (${n.mac}): the distribution's own ${renderer.name} configuration does not bring it up: it stays unconfigured from the next boot on (configure it yourself, or use --keep-network)`, n.name));
      }
    }
  }
  return { plan, network: config };
}

/**
 * The distribution's configuration for the NICs the context configures, neutralised (and restored for
 * every other NIC): merged after sparingForeign (these edit the distribution's files on purpose), each
 * replacing a rendered file of the same path.
 */
function withDistro(plan: Plan, facts: Facts, renderer: NetworkRenderer, config: NetworkConfig, rendered: Plan): Plan {
  if (!facts.sys) return plan;
  const d = planDistroConfig(facts.sys, renderer.name, config, rendered.files);
  const edited = new Set(d.files.map((f) => f.path));
  return { ...plan, files: [...plan.files.filter((f) => !edited.has(f.path)), ...d.files], commands: [...d.commands, ...plan.commands], notes: [...plan.notes, ...d.notes] };
}

function renderNetwork(config: NetworkConfig, renderer: NetworkRenderer): Plan {
  const r = renderer.render(config);
  return { files: r.files, remove: [], commands: r.commands, notes: r.notes };
}

/** Drop planned writes over the user's own files, each with a note saying what was left alone. */
function sparingForeign(plan: Plan, foreign: string[] | undefined): Plan {
  if (!foreign?.length) return plan;
  const skip = new Set(foreign);
  for (const f of plan.files) {
    if (skip.has(f.path)) plan.notes.push(warn(`${f.path} exists without the contextualization marker (the user's own file): left as it is, not replaced (${f.reason})`, f.path));
  }
  return { ...plan, files: plan.files.filter((f) => !skip.has(f.path)) };
}

function staleOwned(plan: Plan, existing: string[]): string[] {
  const keep = new Set(plan.files.map((f) => f.path));
  return existing.filter((p) => !keep.has(p)).sort();
}

/** Human-readable plan for --dry-run: every file with its full content, every command as argv. */
export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  for (const f of plan.files) {
    out.push(`=== write ${f.path} (mode ${f.mode.toString(8).padStart(4, '0')}): ${f.reason}`);
    if (f.secret) out.push(`(${Buffer.byteLength(f.content, f.encoding ?? 'utf8')} bytes, secret: not shown)`);
    else out.push(f.content.endsWith('\n') ? f.content.slice(0, -1) : f.content);
  }
  for (const p of plan.remove) out.push(`=== remove ${p} (stale file owned by contextualization)`);
  for (const d of plan.discard ?? []) out.push(`=== delete ${d.path} (no backup): ${d.reason}`);
  for (const c of plan.commands) out.push(`=== run${c.when === 'live' ? ' (live system only)' : ''}: ${JSON.stringify(c.argv)}: ${c.reason}`);
  // A warning reads `=== note:` (as before levels existed); what the plan only says is marked (info).
  for (const n of plan.notes) out.push(`=== note${n.level === 'info' ? ' (info)' : ''}: ${n.text}`);
  return `${out.join('\n')}\n`;
}

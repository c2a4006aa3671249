/**
 * Cross-check of a context's NIC sections against the NICs of the domain that will boot it. The
 * agent refuses a whole context whose [nic "MAC"] names a MAC the VM lacks (and falls back to DHCP),
 * so contextgen refuses it first; a domain NIC the context leaves out is only worth a warning.
 */
import type { Problem } from '../../lib/context/errors.js';
import type { Context } from '../../lib/context/model.js';
import { inSubnet, isUsableHostAddress, macToIPv4 } from '../../lib/net/ip.js';

export interface NicCheck {
  /** One per [nic "MAC"] section whose MAC the domain does not have. */
  problems: Problem[];
  /** One per domain MAC the context configures nothing for (only when it configures NICs at all). */
  warnings: string[];
}

/** `file` names the context (e.g. "ctx.iso: common/context.ini"), `domain` the VM in messages. */
export function checkContextNics(ctx: Context, domainMacs: string[], file: string, domain: string): NicCheck {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const have = domainMacs.join(', ') || 'none';
  const sectionMacs = new Set<string>();
  for (const n of ctx.nics) {
    if (n.match.kind !== 'mac') continue;
    sectionMacs.add(n.match.mac);
    if (!domainMacs.includes(n.match.mac)) {
      problems.push({
        file,
        key: `[nic "${n.match.mac}"]`,
        value: n.match.mac,
        why: `no NIC of ${domain} has this MAC (its MACs: ${have}); the agent would refuse the whole context`,
      });
    }
  }
  // A name-matched section ([nic "eth1"]) may cover any NIC: nothing to say about the reverse then.
  const byName = ctx.nics.some((n) => n.match.kind === 'name');
  const ls = ctx.legacySubnet;
  if (!byName && (ctx.nics.length || ls)) {
    for (const mac of domainMacs) {
      if (sectionMacs.has(mac)) continue;
      const derived = macToIPv4(mac);
      if (ls && inSubnet(derived, ls.network.address, ls.network.prefix) && isUsableHostAddress(derived, ls.network.prefix)) continue;
      warnings.push(`${file}: ${domain} NIC ${mac} has no [nic] section and no legacy-rule address in the context; the agent will not configure it`);
    }
  }
  return { problems, warnings };
}

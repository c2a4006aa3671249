/**
 * Hostname: /etc/hostname, exactly one owned line in /etc/hosts, and the running hostname (live only).
 * Pure: takes the current /etc/hosts text, returns planned files and commands.
 */
import type { Plan } from '../types/plan.js';
import { emptyPlan } from '../types/plan.js';

export const HOSTS_TAG = '# contextualization';

export interface HostnameInput {
  hostname: string; // validated RFC 1123 short name or FQDN
  domain?: string;
  /** The primary static IPv4, if any: the owned /etc/hosts line points at it (else 127.0.1.1, Debian's convention). */
  address?: string;
  currentHosts?: string;
}

export function planHostname(input: HostnameInput): Plan {
  const plan = emptyPlan();
  const short = input.hostname.split('.')[0]!;
  const fqdn = input.hostname.includes('.') ? input.hostname : input.domain ? `${input.hostname}.${input.domain}` : undefined;
  plan.files.push({ path: '/etc/hostname', content: `${short}\n`, mode: 0o644, reason: `hostname ${short}` });

  const names = fqdn ? `${fqdn} ${short}` : short;
  const owned = `${input.address ?? '127.0.1.1'}\t${names}\t${HOSTS_TAG}`;
  const lines = (input.currentHosts ?? '127.0.0.1\tlocalhost\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  // Drop our previous line; also the distro's 127.0.1.1 line, which would shadow ours with the image's old name.
  const kept = lines.filter((l) => !l.endsWith(HOSTS_TAG) && !/^127\.0\.1\.1\s/.test(l));
  const at = kept.findIndex((l) => /^127\.0\.0\.1\s/.test(l));
  kept.splice(at >= 0 ? at + 1 : 0, 0, owned);
  plan.files.push({ path: '/etc/hosts', content: `${kept.join('\n')}\n`, mode: 0o644, reason: `/etc/hosts entry for ${names}` });

  plan.commands.push({ argv: ['hostname', short], reason: 'set the running hostname', when: 'live', required: false });
  return plan;
}

/**
 * Parser for the report scripts/vm/guest/vm-report prints on the serial console:
 *
 *   === VM-REPORT BEGIN ===
 *   === hostname ===
 *   web01
 *   === addr ===
 *   2: ens3    inet 10.0.2.17/24 brd 10.0.2.255 scope global ens3\       valid_lft forever ...
 *   ...
 *   === VM-REPORT END ===
 *
 * Pure functions: the tests feed them the captured console text.
 */

export const REPORT_BEGIN = '=== VM-REPORT BEGIN ===';
export const REPORT_END = '=== VM-REPORT END ===';

export interface Ipv4Addr {
  ifname: string;
  address: string;
  prefix: number;
}

export interface Report {
  /** Raw text of every section, keyed by name (hostname, addr, route, links, resolv, ...). */
  sections: Map<string, string>;
  hostname: string;
  addresses: Ipv4Addr[];
  routes: string[];
  /** Kernel names of all links but lo. */
  links: string[];
  /** Each link's MAC (lower case), by kernel name. */
  macs: Record<string, string>;
  /** IPv6 addresses but link-local and loopback ones (QEMU's RA makes fec0::/64 "scope site" ones). */
  addresses6: Ipv4Addr[];
  nameservers: string[];
  /** resolv.conf's search domains (the stub resolv.conf lists resolved's). */
  searchDomains: string[];
  /** Domains systemd-resolved holds, global and per link (`resolvectl domain`); empty without resolved. */
  resolvedDomains: string[];
  /** Name servers in use: resolv.conf's (but the resolved stub) plus those systemd-resolved lists per link. */
  dnsServers: string[];
  /** Units systemd lists as failed. */
  failedUnits: string[];
  /** Lines of /var/tmp/post-install-count (one per post-install run); 0 when absent. */
  postInstallRuns: number;
  /** /run/contextualization/status.json parsed, or undefined when absent/unparseable. */
  status?: AgentStatus;
  journal: string;
  /** Guest uptime (s) when the report was printed. */
  uptimeS?: number;
  /** Guest monotonic time (s) each unit became active: contextualization-local.service, network-online.target... */
  timeline: Record<string, number>;
}

/** The fields of status.json the tests look at (agent/src/state/status.ts is the full shape). */
export interface AgentStatus {
  result: 'ok' | 'failed';
  instanceId?: string;
  source?: { kind: string; path?: string; label?: string; method?: string };
  stages: { stage: string; result: string; durationMs: number; steps: { name: string; result: string; message: string; durationMs: number }[] }[];
}

/** Serial output uses CRLF and may carry kernel messages between our lines: normalise line ends only. */
function lines(text: string): string[] {
  return text.replace(/\r/g, '').split('\n');
}

/** The report between the markers, or undefined when the guest never printed a complete one. */
export function parseReport(consoleText: string): Report | undefined {
  const all = lines(consoleText);
  const begin = all.lastIndexOf(REPORT_BEGIN);
  if (begin < 0) return undefined;
  const end = all.indexOf(REPORT_END, begin);
  if (end < 0) return undefined;

  const sections = new Map<string, string>();
  let current: string | undefined;
  let body: string[] = [];
  const flush = (): void => {
    if (current !== undefined) sections.set(current, body.join('\n').trim());
  };
  for (const line of all.slice(begin + 1, end)) {
    const m = /^=== ([a-z0-9-]+) ===$/.exec(line);
    if (m) {
      flush();
      current = m[1];
      body = [];
    } else {
      body.push(line);
    }
  }
  flush();

  const get = (name: string): string => sections.get(name) ?? '';
  return {
    sections,
    hostname: get('hostname'),
    addresses: parseAddrs(get('addr')),
    routes: get('route').split('\n').filter(Boolean),
    links: parseLinks(get('links')),
    macs: parseMacs(get('links')),
    addresses6: parseAddrs(get('addr6').split('\n').filter((l) => !/scope (link|host)/.test(l)).join('\n'), 'inet6'),
    nameservers: [...get('resolv').matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]!),
    // `search .` is resolved's way of saying "none" (it keeps glibc from deriving one from the host name).
    searchDomains: [...get('resolv').matchAll(/^search\s+(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/)).filter((d) => d !== '.'),
    resolvedDomains: resolvedDomains(get('resolved-domain')),
    dnsServers: dnsServers(get('resolv'), get('resolved')),
    failedUnits: get('failed').split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter((u) => u && u.includes('.')),
    postInstallRuns: get('post-install').split('\n').filter((l) => l.startsWith('run ')).length,
    status: parseStatus(get('status')),
    journal: get('journal'),
    uptimeS: parseUptime(get('uptime')),
    timeline: parseTimeline(get('timeline')),
  };
}

/** resolv.conf nameservers (without the 127.0.0.53 stub) and the addresses in `resolvectl dns` output. */
export function dnsServers(resolv: string, resolved: string): string[] {
  const fromResolv = [...resolv.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]!).filter((a) => a !== '127.0.0.53');
  const fromResolved = resolved
    .split('\n')
    .flatMap((line) => line.slice(line.indexOf(':') + 1).trim().split(/\s+/))
    .filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
  return [...new Set([...fromResolv, ...fromResolved])];
}

function parseUptime(text: string): number | undefined {
  const v = Number(text.split(/\s+/)[0]);
  return text && Number.isFinite(v) ? v : undefined;
}

/** "unit MICROSECONDS" lines; units never activated (0 or empty) are left out. */
export function parseTimeline(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\S+) (\d+)$/gm)) {
    const us = Number(m[2]);
    if (us > 0) out[m[1]!] = us / 1e6;
  }
  return out;
}

/** `ip -o -4 addr show` lines: "2: ens3    inet 10.0.2.42/24 brd ... scope global ens3" (or inet6 ones). */
export function parseAddrs(text: string, family: 'inet' | 'inet6' = 'inet'): Ipv4Addr[] {
  const out: Ipv4Addr[] = [];
  const re = family === 'inet' ? /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\/(\d+)/gm : /^\d+:\s+(\S+)\s+inet6\s+([\da-f:]+)\/(\d+)/gm;
  for (const m of text.matchAll(re)) {
    out.push({ ifname: m[1]!, address: m[2]!, prefix: Number(m[3]) });
  }
  return out;
}

/** `ip -o link show` lines: "2: ens3: <BROADCAST,...> mtu 1500 ...". */
export function parseLinks(text: string): string[] {
  return [...text.matchAll(/^\d+:\s+([^:@\s]+)[:@]/gm)].map((m) => m[1]!).filter((n) => n !== 'lo');
}

/** `ip -o link show` lines carry "link/ether 52:54:00:..." after the flags. */
export function parseMacs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^\d+:\s+([^:@\s]+)[:@].*?link\/ether\s+([\da-fA-F:]{17})/gm)) out[m[1]!] = m[2]!.toLowerCase();
  return out;
}

/** `resolvectl domain` lines: "Global: a.example", "Link 2 (ens3): b.example ~."; routing-only "~." is not a search domain. */
export function resolvedDomains(text: string): string[] {
  const out = text
    .split('\n')
    .filter((l) => /^(Global|Link \d+ \([^)]*\)):/.test(l.trim()))
    .flatMap((l) => l.slice(l.indexOf(':') + 1).trim().split(/\s+/))
    .filter((d) => d && !d.startsWith('~'));
  return [...new Set(out)];
}

/** `resolvectl dns` / `resolvectl domain` output by scope: "Global" or the link's kernel name. */
export function resolvedByScope(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(Global|Link \d+ \(([^)]*)\)):(.*)$/.exec(line);
    if (m) out[m[2] ?? 'Global'] = m[3]!.trim().split(/\s+/).filter(Boolean);
  }
  return out;
}

/** A route line reduced to what the context decides: destination, gateway and device. */
export interface Route {
  dest: string;
  via?: string;
  dev?: string;
}

export function parseRoutes(lines: string[]): Route[] {
  return lines.map((l) => {
    const words = l.trim().split(/\s+/);
    const after = (k: string): string | undefined => {
      const i = words.indexOf(k);
      return i >= 0 ? words[i + 1] : undefined;
    };
    return { dest: words[0]!, via: after('via'), dev: after('dev') };
  });
}

/** Every step of every stage in status.json, with its stage: what the no-timeout assertions walk. */
export function agentSteps(report: Report): { stage: string; name: string; result: string; message: string; durationMs: number }[] {
  return (report.status?.stages ?? []).flatMap((s) => s.steps.map((st) => ({ stage: s.stage, ...st })));
}

function parseStatus(text: string): AgentStatus | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as AgentStatus;
  } catch {
    return undefined;
  }
}

/** The default route's gateway ("default via 10.0.2.2 dev ens3 ..."), or undefined. */
export function defaultGateway(report: Report): string | undefined {
  for (const r of report.routes) {
    const m = /^default via (\S+)/.exec(r);
    if (m) return m[1];
  }
  return undefined;
}

/** Total agent time in the guest: the sum of its stages' durations from status.json. */
export function agentMs(report: Report): number | undefined {
  const stages = report.status?.stages;
  if (!stages?.length) return undefined;
  return stages.reduce((sum, s) => sum + (s.durationMs ?? 0), 0);
}

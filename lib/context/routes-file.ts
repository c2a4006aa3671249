/**
 * common/routes: Snooze's ifupdown `up route ...` lines, parsed into Route objects (never run).
 *
 * Accepted (the leading `up` is optional on every form; options after the target in any order,
 * each at most once; `#` starts a comment):
 *   up route add|del -net N netmask M [gw G] [metric K] [dev D]
 *   up route add|del -net N/P [gw G] [metric K] [dev D]
 *   up route add|del -host H [gw G] [metric K] [dev D]
 *   up route add|del default [gw G] [metric K] [dev D]
 *   up ip route add|del N/P|H|default [via G] [metric K] [dev D]     (IPv4 or IPv6)
 * An `add` needs a gateway or a device. Everything else is refused with the line and the reason.
 */
import type { Problems } from './errors.js';
import type { Cidr, Route } from './model.js';
import { CONTEXT_PATHS } from './model.js';
import { LIMITS } from './limits.js';
import { readLines } from './text.js';
import { familyOf, canonicalIp, formatCidr, ifnameProblem, intInRange, parseCidrText, type Family } from './checks.js';
import { netmaskFromPrefix, networkAddress, parseIPv4, prefixFromNetmask } from '../net/ip.js';

const FILE = CONTEXT_PATHS.routes;
const TOKEN_OK = /^[A-Za-z0-9._:/-]+$/;

export interface ParsedRoute {
  route: Route;
  line: number;
}

type Result = Route | string;

export function parseRoutesFile(buf: Buffer, problems: Problems): ParsedRoute[] {
  const out: ParsedRoute[] = [];
  for (const { n, text } of readLines(FILE, buf, LIMITS.textFileBytes, problems)) {
    const hash = text.indexOf('#');
    const body = (hash >= 0 ? text.slice(0, hash) : text).trim();
    if (body === '') continue;
    const tokens = body.split(/[ \t]+/);
    const bad = tokens.find((t) => !TOKEN_OK.test(t));
    const r: Result = bad
      ? `unexpected character ${JSON.stringify(bad.split('').find((c) => !TOKEN_OK.test(c)))} (routes are never passed to a shell; only addresses, names and options are allowed)`
      : parseRouteTokens(tokens);
    if (typeof r === 'string') problems.add(FILE, `line ${n}`, text, r);
    else out.push({ route: r, line: n });
  }
  if (out.length > LIMITS.routes) problems.add(FILE, undefined, undefined, `more than ${LIMITS.routes} routes`);
  return out;
}

/** One route line, already split into tokens (exported for the host tools' --route flag). */
export function parseRouteTokens(tokens: string[]): Result {
  let t = tokens;
  if (t[0] === 'down' || t[0] === 'pre-up' || t[0] === 'post-down' || t[0] === 'pre-down') {
    return `only "up" lines are supported ("${t[0]}" is not: the agent manages the lifetime of its routes itself)`;
  }
  if (t[0] === 'up') t = t.slice(1);
  if (t[0] === 'route') return parseNetTools(t.slice(1));
  if (t[0] === 'ip') return parseIp(t.slice(1));
  return 'expected "up route add|del ..." or "up ip route add|del ..."';
}

function action(word: string | undefined): Route['action'] | undefined {
  if (word === 'add') return 'add';
  if (word === 'del' || word === 'delete') return 'delete';
  return undefined;
}

/** Options after the target, as name -> value; each at most once. */
function readOptions(t: string[], known: readonly string[]): Map<string, string> | string {
  const opts = new Map<string, string>();
  for (let i = 0; i < t.length; i += 2) {
    const name = t[i]!;
    if (!known.includes(name)) return `unsupported word "${name}" (expected one of: ${known.join(', ')})`;
    const value = t[i + 1];
    if (value === undefined) return `"${name}" needs a value`;
    if (opts.has(name)) return `"${name}" given twice`;
    opts.set(name, value);
  }
  return opts;
}

function finish(act: Route['action'], dest: Cidr, gw: string | undefined, opts: Map<string, string>): Result {
  const route: Route = { action: act, destination: dest };
  const fam = familyOf(dest.address)!;
  if (gw !== undefined) {
    const g = canonicalIp(gw);
    if (!g) return `gateway "${gw}" is not an IP address`;
    if (familyOf(g) !== fam) return `gateway ${g} is IPv${familyOf(g)} but the destination is IPv${fam}`;
    route.gateway = g;
  }
  const dev = opts.get('dev');
  if (dev !== undefined) {
    const why = ifnameProblem(dev);
    if (why) return `device "${dev}": ${why}`;
    route.device = dev;
  }
  const metric = opts.get('metric');
  if (metric !== undefined) {
    const m = intInRange(metric, LIMITS.metric.min, LIMITS.metric.max);
    if (typeof m === 'string') return `metric "${metric}" ${m}`;
    route.metric = m;
  }
  if (act === 'add' && !route.gateway && !route.device) return 'an added route needs a gateway or a device';
  return route;
}

function parseNetTools(t: string[]): Result {
  const act = action(t[0]);
  if (!act) return `expected "add" or "del" after "route", got "${t[0] ?? ''}"`;
  const kind = t[1];
  let dest: Cidr;
  const opts0 = readOptions(
    (kind === '-net' || kind === '-host') ? t.slice(3) : t.slice(2),
    ['netmask', 'gw', 'metric', 'dev'],
  );
  if (typeof opts0 === 'string') return opts0;
  const opts = opts0;
  if (kind === 'default') {
    if (opts.has('netmask')) return 'a default route has no netmask';
    dest = { address: '0.0.0.0', prefix: 0 };
  } else if (kind === '-host') {
    if (opts.has('netmask')) return '-host routes have no netmask (use -net N netmask M)';
    const h = parseIPv4(t[2] ?? '');
    if (!h) return `-host needs an IPv4 address, got "${t[2] ?? ''}"`;
    dest = { address: h, prefix: 32 };
  } else if (kind === '-net') {
    const target = t[2] ?? '';
    if (target.includes('/')) {
      if (opts.has('netmask')) return `give either ${target} or a netmask, not both`;
      const c = parseCidrText(target, 4, true);
      if (typeof c === 'string') return `-net ${target}: ${c}`;
      dest = c;
    } else {
      const n = parseIPv4(target);
      if (!n) return `-net needs an IPv4 network, got "${target}"`;
      const m = opts.get('netmask');
      if (m === undefined) return `-net ${target} needs "netmask M" (or write ${target}/PREFIX)`;
      const p = parseIPv4(m) ? prefixFromNetmask(m) : undefined;
      if (p === undefined) return `netmask "${m}" is not a contiguous IPv4 netmask`;
      const net = networkAddress(n, p);
      if (net !== n) return `host bits set: ${n} netmask ${m} is the network ${net}`;
      dest = { address: n, prefix: p };
    }
  } else {
    return `expected -net, -host or default after "${t[0]}", got "${kind ?? ''}"`;
  }
  return finish(act, dest, opts.get('gw'), opts);
}

function parseIp(t: string[]): Result {
  if (t[0] !== 'route') return `expected "ip route", got "ip ${t[0] ?? ''}"`;
  const act = action(t[1]);
  if (!act) return `expected "add" or "del" after "ip route", got "${t[1] ?? ''}"`;
  const target = t[2];
  if (target === undefined) return 'missing destination';
  const opts = readOptions(t.slice(3), ['via', 'metric', 'dev']);
  if (typeof opts === 'string') return opts;
  const via = opts.get('via');
  let dest: Cidr;
  if (target === 'default') {
    // `ip` takes the family of a default route from its gateway.
    const fam: Family = via !== undefined && familyOf(via) === 6 ? 6 : 4;
    dest = fam === 4 ? { address: '0.0.0.0', prefix: 0 } : { address: '::', prefix: 0 };
  } else if (target.includes('/')) {
    const c = parseCidrText(target, undefined, true);
    if (typeof c === 'string') return `destination ${target}: ${c}`;
    dest = c;
  } else {
    const a = canonicalIp(target);
    if (!a) return `destination "${target}" is not an address, a network (N/P) or "default"`;
    dest = { address: a, prefix: familyOf(a) === 4 ? 32 : 128 };
  }
  return finish(act, dest, via, opts);
}

/** Canonical line for a route: net-tools style for IPv4 (as Snooze wrote them), `ip route` for IPv6. */
export function formatRoute(r: Route): string {
  const verb = r.action === 'add' ? 'add' : 'del';
  const tail: string[] = [];
  const v4 = familyOf(r.destination.address) === 4;
  if (v4) {
    const d = r.destination;
    const target = d.prefix === 0 ? 'default' : d.prefix === 32 ? `-host ${d.address}` : `-net ${d.address} netmask ${netmaskFromPrefix(d.prefix)}`;
    if (r.gateway) tail.push('gw', r.gateway);
    if (r.metric !== undefined) tail.push('metric', String(r.metric));
    if (r.device) tail.push('dev', r.device);
    return ['up', 'route', verb, target, ...tail].join(' ');
  }
  if (r.gateway) tail.push('via', r.gateway);
  if (r.metric !== undefined) tail.push('metric', String(r.metric));
  if (r.device) tail.push('dev', r.device);
  return ['up', 'ip', 'route', verb, formatCidr(r.destination), ...tail].join(' ');
}

export function serializeRoutesFile(routes: Route[]): string {
  return `# Routes, one ifupdown "up" line each (parsed, never run by a shell).\n${routes.map((r) => `${formatRoute(r)}\n`).join('')}`;
}

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
import { bad, canonicalIp, checkCidrText, checkIfname, checkInt, familyOf, formatCidr, ok, type Checked, type Family } from './rules.js';
import { netmaskFromPrefix, networkAddress, parseIPv4, prefixFromNetmask } from '../net/ip.js';

const FILE = CONTEXT_PATHS.routes;
const TOKEN_OK = /^[A-Za-z0-9._:/-]+$/;

export interface ParsedRoute {
  route: Route;
  line: number;
}

type Result = Checked<Route>;

export function parseRoutesFile(buf: Buffer, problems: Problems): ParsedRoute[] {
  const out: ParsedRoute[] = [];
  for (const { n, text } of readLines(FILE, buf, LIMITS.textFileBytes, problems)) {
    const hash = text.indexOf('#');
    const body = (hash >= 0 ? text.slice(0, hash) : text).trim();
    if (body === '') continue;
    const tokens = body.split(/[ \t]+/);
    const odd = tokens.find((t) => !TOKEN_OK.test(t));
    const r: Result = odd
      ? bad(`unexpected character ${JSON.stringify(odd.split('').find((c) => !TOKEN_OK.test(c)))} (routes are never passed to a shell; only addresses, names and options are allowed)`)
      : parseRouteTokens(tokens);
    if (!r.ok) problems.add(FILE, `line ${n}`, text, r.why);
    else out.push({ route: r.value, line: n });
  }
  if (out.length > LIMITS.routes) problems.add(FILE, undefined, undefined, `more than ${LIMITS.routes} routes`);
  return out;
}

/** One route line, already split into tokens (exported for the host tools' --route flag). */
export function parseRouteTokens(tokens: string[]): Result {
  let t = tokens;
  if (t[0] === 'down' || t[0] === 'pre-up' || t[0] === 'post-down' || t[0] === 'pre-down') {
    return bad(`only "up" lines are supported ("${t[0]}" is not: the agent manages the lifetime of its routes itself)`);
  }
  if (t[0] === 'up') t = t.slice(1);
  if (t[0] === 'route') return parseNetTools(t.slice(1));
  if (t[0] === 'ip') return parseIp(t.slice(1));
  return bad('expected "up route add|del ..." or "up ip route add|del ..."');
}

function action(word: string | undefined): Route['action'] | undefined {
  if (word === 'add') return 'add';
  if (word === 'del' || word === 'delete') return 'delete';
  return undefined;
}

/** Options after the target, as name -> value; each at most once. */
function readOptions(t: string[], known: readonly string[]): Checked<Map<string, string>> {
  const opts = new Map<string, string>();
  for (let i = 0; i < t.length; i += 2) {
    const name = t[i]!;
    if (!known.includes(name)) return bad(`unsupported word "${name}" (expected one of: ${known.join(', ')})`);
    const value = t[i + 1];
    if (value === undefined) return bad(`"${name}" needs a value`);
    if (opts.has(name)) return bad(`"${name}" given twice`);
    opts.set(name, value);
  }
  return ok(opts);
}

function finish(act: Route['action'], dest: Cidr, gw: string | undefined, opts: Map<string, string>): Result {
  const route: Route = { action: act, destination: dest };
  const fam = familyOf(dest.address)!;
  if (gw !== undefined) {
    const g = canonicalIp(gw);
    if (!g) return bad(`gateway "${gw}" is not an IP address`);
    if (familyOf(g) !== fam) return bad(`gateway ${g} is IPv${familyOf(g)} but the destination is IPv${fam}`);
    route.gateway = g;
  }
  const dev = opts.get('dev');
  if (dev !== undefined) {
    const d = checkIfname(dev);
    if (!d.ok) return bad(`device "${dev}": ${d.why}`);
    route.device = dev;
  }
  const metric = opts.get('metric');
  if (metric !== undefined) {
    const m = checkInt(metric, LIMITS.metric.min, LIMITS.metric.max);
    if (!m.ok) return bad(`metric "${metric}" ${m.why}`);
    route.metric = m.value;
  }
  if (act === 'add' && !route.gateway && !route.device) return bad('an added route needs a gateway or a device');
  return ok(route);
}

function parseNetTools(t: string[]): Result {
  const act = action(t[0]);
  if (!act) return bad(`expected "add" or "del" after "route", got "${t[0] ?? ''}"`);
  const kind = t[1];
  let dest: Cidr;
  const opts0 = readOptions(
    (kind === '-net' || kind === '-host') ? t.slice(3) : t.slice(2),
    ['netmask', 'gw', 'metric', 'dev'],
  );
  if (!opts0.ok) return opts0;
  const opts = opts0.value;
  if (kind === 'default') {
    if (opts.has('netmask')) return bad('a default route has no netmask');
    dest = { address: '0.0.0.0', prefix: 0 };
  } else if (kind === '-host') {
    if (opts.has('netmask')) return bad('-host routes have no netmask (use -net N netmask M)');
    const h = parseIPv4(t[2] ?? '');
    if (!h) return bad(`-host needs an IPv4 address, got "${t[2] ?? ''}"`);
    dest = { address: h, prefix: 32 };
  } else if (kind === '-net') {
    const target = t[2] ?? '';
    if (target.includes('/')) {
      if (opts.has('netmask')) return bad(`give either ${target} or a netmask, not both`);
      const c = checkCidrText(target, 4, true);
      if (!c.ok) return bad(`-net ${target}: ${c.why}`);
      dest = c.value;
    } else {
      const n = parseIPv4(target);
      if (!n) return bad(`-net needs an IPv4 network, got "${target}"`);
      const m = opts.get('netmask');
      if (m === undefined) return bad(`-net ${target} needs "netmask M" (or write ${target}/PREFIX)`);
      const p = parseIPv4(m) ? prefixFromNetmask(m) : undefined;
      if (p === undefined) return bad(`netmask "${m}" is not a contiguous IPv4 netmask`);
      const net = networkAddress(n, p);
      if (net !== n) return bad(`host bits set: ${n} netmask ${m} is the network ${net}`);
      dest = { address: n, prefix: p };
    }
  } else {
    return bad(`expected -net, -host or default after "${t[0]}", got "${kind ?? ''}"`);
  }
  return finish(act, dest, opts.get('gw'), opts);
}

function parseIp(t: string[]): Result {
  if (t[0] !== 'route') return bad(`expected "ip route", got "ip ${t[0] ?? ''}"`);
  const act = action(t[1]);
  if (!act) return bad(`expected "add" or "del" after "ip route", got "${t[1] ?? ''}"`);
  const target = t[2];
  if (target === undefined) return bad('missing destination');
  const read = readOptions(t.slice(3), ['via', 'metric', 'dev']);
  if (!read.ok) return read;
  const opts = read.value;
  const via = opts.get('via');
  let dest: Cidr;
  if (target === 'default') {
    // `ip` takes the family of a default route from its gateway.
    const fam: Family = via !== undefined && familyOf(via) === 6 ? 6 : 4;
    dest = fam === 4 ? { address: '0.0.0.0', prefix: 0 } : { address: '::', prefix: 0 };
  } else if (target.includes('/')) {
    const c = checkCidrText(target, undefined, true);
    if (!c.ok) return bad(`destination ${target}: ${c.why}`);
    dest = c.value;
  } else {
    const a = canonicalIp(target);
    if (!a) return bad(`destination "${target}" is not an address, a network (N/P) or "default"`);
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

/**
 * parseContext: ContextFiles -> Context, or a ContextError listing every problem in every file.
 * Files outside the known layout (Snooze's common/README, data for post-install) are allowed and
 * ignored here; they count against the file and size limits.
 */
import { Problems, type Problem } from './errors.js';
import type { Context, ContextFiles, Dns } from './model.js';
import { CONTEXT_PATHS, DEFAULT_POST_INSTALL_TIMEOUT_SEC, emptyContext } from './model.js';
import { LIMITS, limitWhy } from './limits.js';
import { decodeText } from './text.js';
import { parseNetworkFile, type NetworkFile, type NetworkKey } from './network-file.js';
import { parseRoutesFile, type ParsedRoute } from './routes-file.js';
import { parseIniFile, type IniFile } from './ini-file.js';
import { parseAuthorizedKeysFile } from './authorized-keys.js';
import { validateContext, type Locator, type Where } from './validate.js';
import { checkContextPath, checkPostInstallScript } from './rules.js';

/** True when `files` look like a context (used by the agent before trusting a device). */
export function hasContextLayout(files: ContextFiles): boolean {
  return files.has(CONTEXT_PATHS.network) || files.has(CONTEXT_PATHS.extension) || files.has(CONTEXT_PATHS.postInstall);
}

export function checkFileSet(files: ContextFiles, problems: Problems): void {
  if (files.size > LIMITS.files) problems.add('(context)', undefined, undefined, limitWhy.files());
  let total = 0;
  const known = new Set<string>(Object.values(CONTEXT_PATHS));
  for (const [path, buf] of files) {
    total += buf.length;
    const p = checkContextPath(path);
    if (!p.ok) problems.add(path, undefined, undefined, p.why);
    else if (!known.has(path) && buf.length > LIMITS.otherFileBytes) {
      problems.add(path, undefined, undefined, limitWhy.fileBytes(buf.length, LIMITS.otherFileBytes));
    }
  }
  if (total > LIMITS.totalBytes) problems.add('(context)', undefined, undefined, limitWhy.totalBytes());
}

export function parseContext(files: ContextFiles): Context {
  const problems = new Problems();
  checkFileSet(files, problems);
  const ctx = emptyContext();
  const get = (p: string) => files.get(p);

  const netBuf = get(CONTEXT_PATHS.network);
  const net: NetworkFile = netBuf ? parseNetworkFile(netBuf, problems) : { nameservers: [], search: [], lines: {} };
  const iniBuf = get(CONTEXT_PATHS.extension);
  const ini: IniFile = iniBuf ? parseIniFile(iniBuf, problems) : { nics: [], dns: {}, keyLines: new Map() };
  const routesBuf = get(CONTEXT_PATHS.routes);
  const routes: ParsedRoute[] = routesBuf ? parseRoutesFile(routesBuf, problems) : [];
  const keysBuf = get(CONTEXT_PATHS.authorizedKeys);
  if (keysBuf) ctx.authorizedKeys = parseAuthorizedKeysFile(keysBuf, problems);

  if (net.legacySubnet) ctx.legacySubnet = net.legacySubnet;
  ctx.dns = mergeDns(net, ini, problems);
  ctx.nics = ini.nics.map((n) => n.nic);
  ctx.routes = routes.map((r) => r.route);
  if (ini.instanceId !== undefined) ctx.instanceId = ini.instanceId;
  if (ini.hostname !== undefined) ctx.hostname = ini.hostname;
  if (ini.identity) ctx.identity = ini.identity;

  const piBuf = get(CONTEXT_PATHS.postInstall);
  const iniAt = (k: string) => `line ${ini.keyLines.get(`context.${k}`)}: context.${k}`;
  if (piBuf) {
    const script = decodeText(CONTEXT_PATHS.postInstall, piBuf, LIMITS.postInstallBytes, problems);
    if (script !== undefined) {
      const s = checkPostInstallScript(script);
      if (!s.ok) problems.add(CONTEXT_PATHS.postInstall, undefined, undefined, s.why);
      else {
        ctx.postInstall = {
          script,
          mode: ini.postInstallMode ?? 'per-instance',
          timeoutSec: ini.postInstallTimeoutSec ?? DEFAULT_POST_INSTALL_TIMEOUT_SEC,
        };
      }
    }
  } else {
    for (const k of ['post_install', 'post_install_timeout'] as const) {
      if (ini.keyLines.has(`context.${k}`)) {
        problems.add(CONTEXT_PATHS.extension, iniAt(k), undefined, `set, but there is no ${CONTEXT_PATHS.postInstall} script`);
      }
    }
  }

  // Cross-field checks, pointed at the lines the values came from. Values that already failed
  // above are not in the model, so nothing is reported twice.
  const addressingRefused = problems.list.some((p) => p.file === CONTEXT_PATHS.network || p.file === CONTEXT_PATHS.extension);
  for (const p of validateContext(ctx, fileLocator(net, ini, routes), { reachability: !addressingRefused })) problems.list.push(p);
  sortProblems(problems.list);
  problems.throwIfAny();
  return ctx;
}

/** DNS from common/network and [dns]: either may give each field; both giving different values is an error. */
function mergeDns(net: NetworkFile, ini: IniFile, problems: Problems): Dns {
  const file = CONTEXT_PATHS.extension;
  const conflict = (field: string, key: NetworkKey, a: string, b: string) =>
    problems.add(file, `line ${ini.keyLines.get(`dns.${field}`)}: dns.${field}`, b,
      `conflicts with ${CONTEXT_PATHS.network} ${key}=${JSON.stringify(a)} (give it in one place)`);
  let nameservers = net.nameservers;
  if (ini.dns.nameservers) {
    if (nameservers.length > 0 && nameservers.join(' ') !== ini.dns.nameservers.join(' ')) {
      conflict('nameservers', 'NAMESERVER', nameservers.join(' '), ini.dns.nameservers.join(' '));
    } else nameservers = ini.dns.nameservers;
  }
  let search = net.search;
  if (ini.dns.search) {
    if (search.length > 0 && search.join(' ') !== ini.dns.search.join(' ')) conflict('search', 'SEARCH', search.join(' '), ini.dns.search.join(' '));
    else search = ini.dns.search;
  }
  let domain = net.domain;
  if (ini.dns.domain !== undefined) {
    if (domain !== undefined && domain !== ini.dns.domain) conflict('domain', 'DOMAIN', domain, ini.dns.domain);
    else domain = ini.dns.domain;
  }
  // The domain is searched first (resolv.conf semantics of `domain` + `search`).
  const dns: Dns = { nameservers, search: domain ? [domain, ...search.filter((s) => s !== domain)] : [...search] };
  if (domain) dns.domain = domain;
  return dns;
}

function fileLocator(net: NetworkFile, ini: IniFile, routes: ParsedRoute[]): Locator {
  const ext = CONTEXT_PATHS.extension;
  const netAt = (k: NetworkKey): Where => ({ file: CONTEXT_PATHS.network, key: net.lines[k] ? `line ${net.lines[k]}: ${k}` : k });
  const iniAt = (key: string): Where => {
    const line = ini.keyLines.get(key);
    return { file: ext, key: line ? `line ${line}: ${key}` : key };
  };
  return {
    network: netAt,
    dns: (f) => {
      if (ini.keyLines.has(`dns.${f}`)) return iniAt(`dns.${f}`);
      return netAt(({ nameservers: 'NAMESERVER', search: 'SEARCH', domain: 'DOMAIN' } as const)[f]);
    },
    context: (k) => iniAt(`context.${k}`),
    nic: (i, key) => {
      const n = ini.nics[i];
      if (!n) return { file: ext, key: `nic #${i + 1}` };
      const line = key ? n.keyLines.get(key) ?? n.line : n.line;
      return { file: ext, key: `line ${line}: ${n.label}${key ? `.${key}` : ''}` };
    },
    route: (i) => ({ file: CONTEXT_PATHS.routes, key: `line ${routes[i]?.line}` }),
    authorizedKey: (i) => ({ file: CONTEXT_PATHS.authorizedKeys, key: `key ${i + 1}` }),
    postInstall: () => ({ file: CONTEXT_PATHS.postInstall }),
  };
}

/** File by file (in order of first mention), then by line: the order a reader fixes them in. */
function sortProblems(list: Problem[]): void {
  const fileOrder = new Map<string, number>();
  for (const p of list) if (!fileOrder.has(p.file)) fileOrder.set(p.file, fileOrder.size);
  const line = (p: Problem) => Number(/^line (\d+)/.exec(p.key ?? '')?.[1] ?? 0);
  list.sort((a, b) => fileOrder.get(a.file)! - fileOrder.get(b.file)! || line(a) - line(b));
}

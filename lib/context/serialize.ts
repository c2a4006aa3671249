/**
 * serializeContext: Context -> ContextFiles, exactly what parseContext reads back (the round-trip
 * property is tested). Writes Snooze files where Snooze can say it, context.ini only when needed.
 * post-install must end up executable (mode 0755) on the ISO: that is the ISO writer's job, since
 * ContextFiles carries no modes.
 */
import { ContextError } from './errors.js';
import type { Context, ContextFiles } from './model.js';
import { CONTEXT_PATHS, DEFAULT_POST_INSTALL_TIMEOUT_SEC } from './model.js';
import { serializeNetworkFile } from './network-file.js';
import { serializeRoutesFile } from './routes-file.js';
import { needsIni, serializeIniFile, type IniValues } from './ini-file.js';
import { serializeAuthorizedKeysFile } from './authorized-keys.js';
import { validateContext } from './validate.js';

export function serializeContext(ctx: Context): ContextFiles {
  const problems = validateContext(ctx);
  if (problems.length > 0) throw new ContextError(problems);
  const files: ContextFiles = new Map();
  const text = (path: string, s: string) => files.set(path, Buffer.from(s, 'utf8'));

  const { domain } = ctx.dns;
  // DOMAIN is searched first by construction; SEARCH holds the rest.
  const search = domain !== undefined ? ctx.dns.search.slice(1) : ctx.dns.search;
  const net: Parameters<typeof serializeNetworkFile>[0] = { nameservers: ctx.dns.nameservers, search };
  if (domain !== undefined) net.domain = domain;
  if (ctx.legacySubnet) net.legacySubnet = ctx.legacySubnet;
  // Always written: it is the file that marks a Snooze context, and legacy scripts may source it.
  text(CONTEXT_PATHS.network, serializeNetworkFile(net));

  if (ctx.routes.length > 0) text(CONTEXT_PATHS.routes, serializeRoutesFile(ctx.routes));

  const ini: IniValues = { nics: ctx.nics };
  if (ctx.instanceId !== undefined) ini.instanceId = ctx.instanceId;
  if (ctx.hostname !== undefined) ini.hostname = ctx.hostname;
  if (ctx.identity) ini.identity = ctx.identity;
  const pi = ctx.postInstall;
  if (pi && pi.mode !== 'per-instance') ini.postInstallMode = pi.mode;
  if (pi && pi.timeoutSec !== DEFAULT_POST_INSTALL_TIMEOUT_SEC) ini.postInstallTimeoutSec = pi.timeoutSec;
  if (needsIni(ini)) text(CONTEXT_PATHS.extension, serializeIniFile(ini));

  if (ctx.authorizedKeys.length > 0) text(CONTEXT_PATHS.authorizedKeys, serializeAuthorizedKeysFile(ctx.authorizedKeys));
  if (pi) text(CONTEXT_PATHS.postInstall, pi.script);
  return files;
}

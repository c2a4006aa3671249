/** The context format: one model, its files, parsers, validation and serializer. */
import { checkAuthorizedKey } from './authorized-keys.js';
import { checkContextPath, checkDomain, checkIfname, whyNot } from './rules.js';

export { parseContext, hasContextLayout } from './parse.js';
export { serializeContext } from './serialize.js';
export { readContextDir, fileLimit } from './read-dir.js';
export { contextHash } from './hash.js';
export { validateContext, isLinkLocal6, type Locator, type Where } from './validate.js';
export { LIMITS, CONTEXT_READ_LIMITS, limitWhy, type ContextReadLimits } from './limits.js';
export { parseRouteTokens, formatRoute } from './routes-file.js';
export { checkAuthorizedKey, SSH_KEY_TYPES } from './authorized-keys.js';
export { NETWORK_KEYS } from './network-file.js';
export * from './rules.js';
export * from './model.js';
export * from './errors.js';

// Adapters for callers outside lib/ not yet moved to the catalog's Checked results (each is one
// catalog rule, not a copy): agent/src/discover/tree.ts and host-tools/src/context-flags.ts.
/** @deprecated use checkContextPath */
export const contextPathProblem = (path: string): string | undefined => whyNot(checkContextPath(path));
/** @deprecated use checkDomain */
export const domainProblem = (s: string): string | undefined => whyNot(checkDomain(s));
/** @deprecated use checkIfname */
export const ifnameProblem = (s: string): string | undefined => whyNot(checkIfname(s));
/** @deprecated use checkAuthorizedKey */
export function parseAuthorizedKey(line: string): { line: string } | { why: string } {
  const c = checkAuthorizedKey(line);
  return c.ok ? { line: c.value } : { why: c.why };
}

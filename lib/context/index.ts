/** The context format: one model, its files, parsers, validation and serializer. */

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

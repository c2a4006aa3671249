/** The context format: one model, its files, parsers, validation and serializer. */
export { parseContext, hasContextLayout, contextPathProblem } from './parse.js';
export { serializeContext } from './serialize.js';
export { readContextDir, fileLimit } from './read-dir.js';
export { contextHash } from './hash.js';
export { validateContext, isLinkLocal6, type Locator, type Where } from './validate.js';
export { LIMITS } from './limits.js';
export { parseRouteTokens, formatRoute } from './routes-file.js';
export { parseAuthorizedKey, SSH_KEY_TYPES } from './authorized-keys.js';
export { NIC_METHODS, POST_INSTALL_MODES } from './ini-file.js';
export { NETWORK_KEYS } from './network-file.js';
export {
  hostnameProblem, domainProblem, instanceIdProblem, ifnameProblem, macProblem, parseCidrText, formatCidr, canonicalIp, familyOf,
} from './checks.js';
export * from './model.js';
export * from './errors.js';

/** Signed contexts bound to their VM: key format, canonical manifest, sign, verify. Format: docs/signed-contexts.md. */
export * from './keys.js';
export * from './manifest.js';
export * from './input.js';
export * from './signature.js';
export * from './verify-iso.js';

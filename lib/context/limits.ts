/**
 * Size and count limits of a context. The agent reads the context as root from a CD anyone with
 * access to the hypervisor could have written, so every read is bounded before anything is parsed.
 */
export const LIMITS = {
  /** common/network, common/routes, common/context.ini, common/authorized_keys. */
  textFileBytes: 64 * 1024,
  /** post-install (a script, not data). */
  postInstallBytes: 1024 * 1024,
  /** Any other file on the CD (for post-install's use). */
  otherFileBytes: 16 * 1024 * 1024,
  /** All files together. */
  totalBytes: 64 * 1024 * 1024,
  /** Number of files (directories not counted). */
  files: 1024,
  /** Directory nesting below the context root. */
  depth: 16,
  /** Bytes of one path (relative to the root). */
  pathBytes: 1024,
  nics: 64,
  routes: 1024,
  nameservers: 8,
  searchDomains: 32,
  authorizedKeys: 256,
  /** One authorized_keys line (a 16384-bit RSA key is about 2.8 KiB). */
  authorizedKeyBytes: 16 * 1024,
  postInstallTimeoutSec: { min: 1, max: 86_400 },
  mtu: { min: 68, max: 65_535 },
  metric: { min: 0, max: 4_294_967_295 },
  /** Legacy NETMASK prefix: below /8 a random MAC falls inside too easily; above /30 no host fits. */
  legacyPrefix: { min: 8, max: 30 },
} as const;

/**
 * Size and count limits of a context. The agent reads the context as root from a CD anyone with
 * access to the hypervisor could have written, so every read is bounded before anything is parsed.
 */
import { CONTEXT_PATHS } from './model.js';

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

/**
 * What a reader of a whole context (the ISO reader, the directory reader, the agent's discovery)
 * bounds before anything is parsed: the same numbers as LIMITS, gathered for readers. parseContext
 * checks them again on the files it is given, with the same reasons (limitWhy).
 */
export interface ContextReadLimits {
  /** Regular files (directories not counted). */
  files: number;
  /** All files together. */
  totalBytes: number;
  /** Directory nesting below the context root. */
  depth: number;
  /** Bytes of one relative path. */
  pathBytes: number;
  /** Per-file caps: the four text files, post-install, anything else. */
  textFileBytes: number;
  postInstallBytes: number;
  otherFileBytes: number;
}

export const CONTEXT_READ_LIMITS: Readonly<ContextReadLimits> = Object.freeze({
  files: LIMITS.files,
  totalBytes: LIMITS.totalBytes,
  depth: LIMITS.depth,
  pathBytes: LIMITS.pathBytes,
  textFileBytes: LIMITS.textFileBytes,
  postInstallBytes: LIMITS.postInstallBytes,
  otherFileBytes: LIMITS.otherFileBytes,
});

const TEXT_FILES: ReadonlySet<string> = new Set([CONTEXT_PATHS.network, CONTEXT_PATHS.routes, CONTEXT_PATHS.extension, CONTEXT_PATHS.authorizedKeys]);

/** Byte limit of one file at `path` (relative to the context root). */
export function fileLimit(path: string, limits: ContextReadLimits = CONTEXT_READ_LIMITS): number {
  if (path === CONTEXT_PATHS.postInstall) return limits.postInstallBytes;
  return TEXT_FILES.has(path) ? limits.textFileBytes : limits.otherFileBytes;
}

/** The reasons a reader gives when a limit is passed: one wording, whichever reader hit it. */
export const limitWhy = {
  files: (limits: ContextReadLimits = CONTEXT_READ_LIMITS) => `more than ${limits.files} files; a context holds at most ${limits.files}`,
  totalBytes: (limits: ContextReadLimits = CONTEXT_READ_LIMITS) => `more than ${limits.totalBytes} bytes in all; a context holds at most ${limits.totalBytes}`,
  fileBytes: (size: number, limit: number) => `file is ${size} bytes; the limit is ${limit}`,
  depth: (limits: ContextReadLimits = CONTEXT_READ_LIMITS) => `nested deeper than ${limits.depth} directories`,
};

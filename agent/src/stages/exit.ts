/**
 * Exit codes (documented in the README) and the one place errors map to them, by class.
 */
import { ContextError } from '../../../lib/context/errors.js';
import { LockError } from '../state/lock.js';

export const EXIT = {
  ok: 0,
  /** A context was found but is invalid or refused: nothing of it applied, the network fell back. */
  invalidContext: 1,
  usage: 2,
  /** Applying failed (I/O, a required command). */
  applyFailed: 3,
  /** Another run holds the lock. */
  locked: 4,
  /** post-install exited non-zero or timed out. */
  postInstallFailed: 5,
  /** Disabled by flag file or kernel command line: nothing done. */
  disabled: 0,
} as const;

/** A bad command line (flag value, conflicting flags): exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ContextError) return EXIT.invalidContext;
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof LockError) return EXIT.locked;
  return EXIT.applyFailed;
}

/** Every line an error stands for: a ContextError's problems one per line, else the message (and its cause). */
export function errorLines(err: unknown): string[] {
  if (err instanceof ContextError) return err.message.split('\n');
  if (!(err instanceof Error)) return [String(err)];
  const cause = err.cause instanceof Error && !err.message.includes(err.cause.message) ? `: ${err.cause.message}` : '';
  return [`${err.message}${cause}`];
}

/**
 * Exit codes and the error kinds that map onto them. Every command reports failures by throwing one
 * of these; program.ts (main) turns them into one line per problem on stderr and the documented exit code.
 */
import { ContextError, formatProblem, type Problem } from '../../lib/context/errors.js';

export const EXIT = {
  ok: 0,
  /** Invalid input: a bad flag value, context, inventory, or a refusal (file exists without --force). */
  invalid: 1,
  /** Usage: unknown command or option, missing required option. */
  usage: 2,
  /** I/O or external tool failure (cannot read/write a file, qemu-img or virsh failed). */
  io: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Wrong command-line shape (not a wrong value: that is a ContextError with a Problem). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An I/O or external-tool failure. `message` is one line naming the file or tool. */
export class ExternalError extends Error {
  override readonly name = 'ExternalError';
}

/** Shorthand for the common case: one problem with one input value. */
export function invalid(file: string, key: string | undefined, value: string | undefined, why: string): ContextError {
  return new ContextError([{ file, key, value, why }]);
}

/** Exit code and stderr lines for any thrown value. Unknown errors are treated as I/O failures. */
export function describeError(err: unknown): { code: ExitCode; lines: string[] } {
  if (err instanceof ContextError) return { code: EXIT.invalid, lines: err.problems.map(formatProblem) };
  if (err instanceof UsageError) return { code: EXIT.usage, lines: [err.message] };
  if (err instanceof ExternalError) return { code: EXIT.io, lines: [oneLine(err.message)] };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    // Node fs errors already name the syscall and path: "ENOENT: no such file or directory, open 'x'".
    return { code: EXIT.io, lines: [oneLine(e.message)] };
  }
  return { code: EXIT.io, lines: [oneLine(err instanceof Error ? err.message : String(err))] };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' | ').trim();
}

export type { Problem };

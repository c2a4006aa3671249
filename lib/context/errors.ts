/**
 * One problem with one value: where it is (file, key or line), what it is, and why it is wrong.
 * Rendered on one line so it reads well on a serial console and in a journal.
 */
import { INVISIBLE_CHARS } from './rules.js';
export interface Problem {
  file: string;
  /** Key name, INI "section.key", or "line N". */
  key?: string;
  value?: string;
  why: string;
}

/** Quote a value for an error message: control characters and newlines made visible, long values cut. */
export function showValue(value: string): string {
  const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return escapeInvisible(shown);
}

/**
 * File names, keys and reasons can carry bytes from the context itself (an ISO path, a device name
 * quoted in a reason): escape control characters so a problem stays one line, and cap the length.
 */
function oneLine(s: string, max: number): string {
  return escapeInvisible(s.length > max ? `${s.slice(0, max - 3)}...` : s);
}

/** The catalog's forbidden characters, zero-width characters and the BOM as \uXXXX. */
function escapeInvisible(s: string): string {
  return s.replace(INVISIBLE_CHARS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatProblem(p: Problem): string {
  const where = p.key ? `${oneLine(p.file, 200)}: ${oneLine(p.key, 200)}` : oneLine(p.file, 200);
  const what = p.value !== undefined ? ` = ${showValue(p.value)}` : '';
  return `${where}${what}: ${oneLine(p.why, 300)}`;
}

/** Thrown when a context (or any operator input) is invalid; carries every problem found, not just the first. */
export class ContextError extends Error {
  readonly problems: Problem[];
  /** `options.cause`: the error this one wraps (an errno, a parser failure), kept for diagnostics. */
  constructor(problems: Problem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join('\n'), options);
    this.name = 'ContextError';
    this.problems = problems;
  }
}

/** Collects problems while parsing so one run reports all of them. */
export class Problems {
  readonly list: Problem[] = [];
  add(file: string, key: string | undefined, value: string | undefined, why: string): void {
    this.list.push({ file, key, value, why });
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new ContextError(this.list);
  }
}

/**
 * One problem with one value: where it is (file, key or line), what it is, and why it is wrong.
 * Rendered on one line so it reads well on a serial console and in a journal.
 */
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
  return shown;
}

export function formatProblem(p: Problem): string {
  const where = p.key ? `${p.file}: ${p.key}` : p.file;
  const what = p.value !== undefined ? ` = ${showValue(p.value)}` : '';
  return `${where}${what}: ${p.why}`;
}

/** Thrown when a context (or any operator input) is invalid; carries every problem found, not just the first. */
export class ContextError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
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

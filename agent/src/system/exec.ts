/**
 * The agent's one way to run a program: no stdin, a timeout, output captured as text. execa does
 * the work and is loaded on first use.
 *
 * Why lazily: the x64 binary starts from a V8 startup snapshot of the boot path (build/build.mjs),
 * and execa captures process.stdin/stdout/stderr in a module-level array when it is evaluated. Taken
 * into the snapshot, that array would hold the build's streams, not the running agent's. Evaluated
 * here, on the first command, it holds the real ones.
 */
export interface RunOptions {
  timeout: number;
  /** false: a failed program is a result (exitCode, stderr), not an exception. */
  reject?: boolean;
  /** Also capture stdout and stderr interleaved as `all` (for the last line of a failure). */
  all?: boolean;
}

export interface RunResult {
  exitCode?: number;
  stdout: string;
  stderr: string;
  all?: string;
  shortMessage?: string;
}

export async function runProgram(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const { execa: run } = await import('execa');
  const r = await run(file, args, { ...options, stdin: 'ignore' });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, all: r.all, shortMessage: r.shortMessage };
}

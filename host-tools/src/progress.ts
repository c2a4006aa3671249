/**
 * Progress bars, drawn on the Io's progress stream only (never on process.stderr behind the Io's back),
 * and only when that stream is an interactive terminal: a log file or a pipe gets the summary line alone.
 */
import cliProgress from 'cli-progress';
import type { Io } from './io.js';

export interface Progress {
  increment(): void;
  stop(): void;
}

/** A started bar of `total` steps, or undefined when the Io has no terminal to draw on. */
export function startProgress(io: Io, total: number, format: string): Progress | undefined {
  if (!io.isTTY || !io.progress) return undefined;
  const bar = new cliProgress.SingleBar({ stream: io.progress, format, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  return bar;
}

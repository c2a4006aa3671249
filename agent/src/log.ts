/**
 * pino JSON logs to stderr (journald and the console via the unit), pretty when a person is watching.
 * pino-pretty is used as an in-process stream, not a transport: transports need worker files that a
 * single-file binary does not have.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export function makeLogger(level = process.env.CONTEXTUALIZATION_LOG_LEVEL ?? 'info', json?: boolean): Logger {
  const usePretty = json === undefined ? process.stderr.isTTY === true : !json;
  const base = { level, base: { name: 'contextualization' } } satisfies pino.LoggerOptions;
  if (usePretty) return pino(base, pretty({ destination: 2, colorize: true, ignore: 'pid,hostname,name', sync: true }));
  return pino(base, pino.destination({ fd: 2, sync: true }));
}

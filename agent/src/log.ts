/**
 * Logs go to stderr through pino. For people (a terminal, the boot console, the journal: systemd sets
 * JOURNAL_STREAM for a unit's stdio) each record is one plain line, and under the journal it carries the
 * sd-daemon priority prefix (`<4>`) so `journalctl -p warning` works. Otherwise (a pipe, a file, --json)
 * records stay pino JSON. No pino-pretty: its load time would sit on the boot path.
 */
import pino, { type Logger } from 'pino';

/** pino levels -> syslog priorities (sd-daemon(3)). */
const PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const LABEL: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields of every record that are not worth a person's attention. */
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'step']);

/** One record as a line: "warn: message (key=value ...)". Values are JSON-quoted when they need it. */
export function plainLine(json: string, journal: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const extras = Object.entries(rec)
    .filter(([k, v]) => !SKIP.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[\w./:@+-]+$/.test(v) ? v : JSON.stringify(v)}`);
  const step = typeof rec.step === 'string' ? `${rec.step}: ` : '';
  const text = `${step}${String(rec.msg ?? '')}${extras.length ? ` (${extras.join(' ')})` : ''}`.replace(/\n/g, ' | ');
  return journal ? `<${PRIORITY[level] ?? 6}>${text}` : `${LABEL[level] ?? 'info'}: ${text}`;
}

export function makeLogger(level = process.env.CONTEXTUALIZATION_LOG_LEVEL ?? 'info', json?: boolean): Logger {
  const journal = process.env.JOURNAL_STREAM !== undefined;
  const plain = json === undefined ? journal || process.stderr.isTTY === true : !json;
  const base = { level, base: { name: 'contextualization' } } satisfies pino.LoggerOptions;
  if (!plain) return pino(base, pino.destination({ fd: 2, sync: true }));
  return pino(base, { write: (line: string) => { process.stderr.write(`${plainLine(line, journal)}\n`); } });
}

/**
 * Bytes -> lines, with the checks every text file of the format shares: size, UTF-8, NUL and other
 * control characters. CRLF line ends and a UTF-8 BOM are tolerated (Windows editors); a lone CR is
 * not, because some readers (the `ini` package among them) treat it as a line break: a value could
 * smuggle a second line past a reader that does not.
 */
import type { Problems } from './errors.js';
import { FORBIDDEN_CHAR, describeChar } from './rules.js';
import { limitWhy } from './limits.js';

export interface Line {
  /** 1-based line number. */
  n: number;
  text: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The decoded text, or undefined (with a problem) when it is too big or not UTF-8. */
export function decodeText(file: string, buf: Buffer, maxBytes: number, problems: Problems): string | undefined {
  if (buf.length > maxBytes) {
    problems.add(file, undefined, undefined, limitWhy.fileBytes(buf.length, maxBytes));
    return undefined;
  }
  try {
    return decoder.decode(buf); // drops a leading BOM
  } catch {
    problems.add(file, undefined, undefined, 'not valid UTF-8 text');
    return undefined;
  }
}

/**
 * Text lines of a data file. A line with a forbidden character is reported (once) and left out, so
 * the caller never sees it. Trailing CR of a CRLF pair is removed.
 */
export function readLines(file: string, buf: Buffer, maxBytes: number, problems: Problems): Line[] {
  const text = decodeText(file, buf, maxBytes, problems);
  if (text === undefined) return [];
  const raw = text.split('\n');
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  const lines: Line[] = [];
  raw.forEach((r, i) => {
    const t = r.endsWith('\r') ? r.slice(0, -1) : r;
    const bad = FORBIDDEN_CHAR.exec(t);
    if (bad) {
      problems.add(file, `line ${i + 1}`, t, `contains ${describeChar(bad[0])}`);
      return;
    }
    lines.push({ n: i + 1, text: t });
  });
  return lines;
}

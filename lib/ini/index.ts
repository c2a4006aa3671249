/**
 * The one strict INI line reader, for common/context.ini (lib/context/ini-file.ts) and contextgen's
 * inventories (host-tools/src/batch/ini.ts). Why not the `ini` package: it silently merges repeated
 * sections and keys, nests section names at dots, treats a lone CR as a line break, turns "true" into
 * a boolean and keeps no line numbers. This reader only cuts lines into sections and entries with
 * their line numbers; each format keeps its own rules (known sections and keys, its wording) on top,
 * and refuses repeats with FirstSeen. The two dialects differ only where their documents say so:
 * inline comments (inventory: after whitespace; context.ini: none, `;`/`#` are left in the value for
 * the caller to refuse) and the quotes a value may be wrapped in.
 */

export interface IniDialect {
  /** ` ; comment` / ` # comment` after whitespace ends a line (outside quotes). */
  inlineComments: boolean;
  /** The characters a whole value may be wrapped in ('"' or `"'`); no escapes, no continuations. */
  quotes: string;
  /** Which `[...]` texts are section headers; any other bracketed line is read as an entry line. */
  sectionName: RegExp;
}

export type IniItem =
  | { kind: 'section'; n: number; raw: string; name: string }
  /**
   * `key = value`: `keyText` as written before the first '=', `rawValue` after it (comment cut, trimmed),
   * `value` unquoted, or undefined when a quote is unbalanced or inside the value.
   */
  | { kind: 'entry'; n: number; raw: string; keyText: string; key: string; rawValue: string; value: string | undefined }
  /** Neither a section, an entry, a comment nor blank. */
  | { kind: 'other'; n: number; raw: string };

/** Sections, entries and unreadable lines in order; blank lines and full-line `;`/`#` comments are skipped. */
export function* iniItems(lines: Iterable<{ n: number; text: string }>, d: IniDialect): Generator<IniItem> {
  for (const { n, text: raw } of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const head = /^\[(.*)\]$/s.exec(d.inlineComments ? stripInlineComment(line).trim() : line);
    if (head && d.sectionName.test(head[1]!)) {
      yield { kind: 'section', n, raw, name: head[1]! };
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      yield { kind: 'other', n, raw };
      continue;
    }
    const keyText = line.slice(0, eq);
    const after = line.slice(eq + 1);
    const rawValue = (d.inlineComments ? stripInlineComment(after) : after).trim();
    yield { kind: 'entry', n, raw, keyText, key: keyText.trim(), rawValue, value: unquote(rawValue, d.quotes) };
  }
}

/** The value without its wrapping quotes, or undefined when a quote is left unbalanced or inside it. */
export function unquote(v: string, quotes: string): string | undefined {
  const q = v[0];
  if (v.length >= 2 && q !== undefined && quotes.includes(q) && v.endsWith(q)) {
    const inner = v.slice(1, -1);
    return [...quotes].some((c) => inner.includes(c)) ? undefined : inner;
  }
  return [...quotes].some((c) => v.includes(c)) ? undefined : v;
}

/** Drops ` ; comment` / ` # comment` outside double quotes. */
function stripInlineComment(s: string): string {
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') inQuote = !inQuote;
    else if (!inQuote && (c === ';' || c === '#') && (i === 0 || /\s/.test(s[i - 1]!))) return s.slice(0, i);
  }
  return s;
}

/** Where each section or key was first seen: a repeat is refused, naming that first line. */
export class FirstSeen {
  private readonly lines = new Map<string, number>();
  /** The line `id` was first seen on, or undefined (and `n` recorded) when this is the first time. */
  repeatOf(id: string, n: number): number | undefined {
    const first = this.lines.get(id);
    if (first === undefined) this.lines.set(id, n);
    return first;
  }
}

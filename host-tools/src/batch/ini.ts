/**
 * A strict INI reader for inventories. The `ini` package was the first choice but it silently merges
 * duplicate sections, splits section names on dots, turns "true" into a boolean and keeps no line
 * numbers; an inventory needs all four (a duplicated [vm web01] is exactly the mistake to catch).
 *
 * Grammar: `[section]` or `[kind name]` headers; `key = value` lines; full-line comments starting
 * with ';' or '#'; an inline comment needs whitespace before its ';' or '#'. A value may be wrapped in
 * double quotes (to keep a ';' or '#' or surrounding spaces); there are no escapes and no continuations.
 */
import type { Problem } from '../../../lib/context/errors.js';

export interface IniEntry {
  value: string;
  line: number;
}

export interface IniSection {
  /** Header text as written, trimmed and with inner whitespace collapsed: "defaults", "vm web01". */
  header: string;
  line: number;
  entries: Map<string, IniEntry>;
}

export function parseIni(text: string, file: string): { sections: IniSection[]; problems: Problem[] } {
  const sections: IniSection[] = [];
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  let current: IniSection | undefined;
  /** Inside a repeated or empty section: its keys are neither merged nor reported again. */
  let skipping = false;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const head = /^\[([^\]]*)\]$/.exec(stripInlineComment(line).trim());
    if (head) {
      const header = head[1]!.trim().replace(/\s+/g, ' ');
      if (!header) {
        problems.push({ file, key: `line ${n}`, value: raw, why: 'empty section name' });
        current = undefined;
        skipping = true;
        return;
      }
      const before = seen.get(header);
      if (before !== undefined) {
        problems.push({ file, key: `line ${n}`, value: `[${header}]`, why: `section repeated (first at line ${before})` });
        current = undefined; // its keys are not merged into the first one
        skipping = true;
        return;
      }
      skipping = false;
      seen.set(header, n);
      current = { header, line: n, entries: new Map() };
      sections.push(current);
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      problems.push({ file, key: `line ${n}`, value: raw, why: 'expected "key = value" or "[section]"' });
      return;
    }
    const key = line.slice(0, eq).trim();
    let value = stripInlineComment(line.slice(eq + 1)).trim();
    if (/^"[^"]*"$/.test(value)) value = value.slice(1, -1);
    else if (value.includes('"')) {
      problems.push({ file, key: `line ${n}`, value: raw, why: 'unbalanced or inner double quote' });
      return;
    }
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key)) {
      problems.push({ file, key: `line ${n}`, value: key, why: 'key must be letters, digits, _ or -' });
      return;
    }
    if (!current) {
      if (skipping) return;
      if (!problems.some((p) => p.why.startsWith('key outside'))) {
        problems.push({ file, key: `line ${n}`, value: key, why: 'key outside any section (start with [defaults])' });
      }
      return;
    }
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(value)) {
      problems.push({ file, key: `[${current.header}] ${key}`, value, why: 'value contains a control character' });
      return;
    }
    const norm = key.toLowerCase().replaceAll('-', '_');
    const prev = current.entries.get(norm);
    if (prev) {
      problems.push({ file, key: `[${current.header}] ${key}`, value, why: `key repeated in section (first at line ${prev.line})` });
      return;
    }
    current.entries.set(norm, { value, line: n });
  });
  return { sections, problems };
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

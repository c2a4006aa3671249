/**
 * The inventory's INI rules over the one strict reader (lib/ini): a duplicated [vm web01] is exactly
 * the mistake to catch, so repeated sections and keys are refused with the line of the first.
 *
 * Grammar: `[section]` or `[kind name]` headers; `key = value` lines; full-line comments starting
 * with ';' or '#'; an inline comment needs whitespace before its ';' or '#'. A value may be wrapped in
 * double quotes (to keep a ';' or '#' or surrounding spaces); there are no escapes and no continuations.
 */
import type { Problem } from '../../../lib/context/errors.js';
import { FirstSeen, iniItems, type IniDialect } from '../../../lib/ini/index.js';

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

const INVENTORY: IniDialect = { inlineComments: true, quotes: '"', sectionName: /^[^\]]*$/ };

export function parseIni(text: string, file: string): { sections: IniSection[]; problems: Problem[] } {
  const sections: IniSection[] = [];
  const problems: Problem[] = [];
  const seen = new FirstSeen();
  let current: IniSection | undefined;
  /** Inside a repeated or empty section: its keys are neither merged nor reported again. */
  let skipping = false;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((t, i) => ({ n: i + 1, text: t }));
  for (const item of iniItems(lines, INVENTORY)) {
    const { n, raw } = item;
    if (item.kind === 'section') {
      const header = item.name.trim().replace(/\s+/g, ' ');
      if (!header) {
        problems.push({ file, key: `line ${n}`, value: raw, why: 'empty section name' });
        current = undefined;
        skipping = true;
        continue;
      }
      const before = seen.repeatOf(header, n);
      if (before !== undefined) {
        problems.push({ file, key: `line ${n}`, value: `[${header}]`, why: `section repeated (first at line ${before})` });
        current = undefined; // its keys are not merged into the first one
        skipping = true;
        continue;
      }
      skipping = false;
      current = { header, line: n, entries: new Map() };
      sections.push(current);
      continue;
    }
    if (item.kind === 'other') {
      problems.push({ file, key: `line ${n}`, value: raw, why: 'expected "key = value" or "[section]"' });
      continue;
    }
    const { key, value } = item;
    if (value === undefined) {
      problems.push({ file, key: `line ${n}`, value: raw, why: 'unbalanced or inner double quote' });
      continue;
    }
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key)) {
      problems.push({ file, key: `line ${n}`, value: key, why: 'key must be letters, digits, _ or -' });
      continue;
    }
    if (!current) {
      if (skipping) continue;
      if (!problems.some((p) => p.why.startsWith('key outside'))) {
        problems.push({ file, key: `line ${n}`, value: key, why: 'key outside any section (start with [defaults])' });
      }
      continue;
    }
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(value)) {
      problems.push({ file, key: `[${current.header}] ${key}`, value, why: 'value contains a control character' });
      continue;
    }
    const norm = key.toLowerCase().replaceAll('-', '_');
    const prev = current.entries.get(norm);
    if (prev) {
      problems.push({ file, key: `[${current.header}] ${key}`, value, why: `key repeated in section (first at line ${prev.line})` });
      continue;
    }
    current.entries.set(norm, { value, line: n });
  }
  return { sections, problems };
}

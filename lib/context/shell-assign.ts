/**
 * A strict reader for shell-style `KEY=VALUE` lines (Snooze's common/network). Nothing is evaluated:
 * the grammar is the subset of POSIX sh assignments whose meaning needs no expansion, and anything
 * a shell would expand or execute ($, backticks, unknown backslash escapes, metacharacters) is an
 * error rather than a literal, so a file means the same to us as to a legacy script that sources it.
 *
 *   line    := blank | '#' comment | ['export' ws] KEY '=' value [ws ['#' comment]]
 *   value   := bare | "'" chars "'" | '"' chars-with-\"-and-\\ '"'
 */
import type { Problems } from './errors.js';
import type { Line } from './text.js';

export interface Assignment {
  key: string;
  value: string;
  line: number;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*/;
// Characters a bare word may hold without a shell giving them meaning.
const BARE_OK = /^[A-Za-z0-9._:,/@%+=-]$/;
const EXPANDS = 'would be expanded by a shell; this format never expands values';

type Lex = { value: string; rest: string } | { why: string };

function lexValue(s: string): Lex {
  const q = s[0];
  if (q === "'") {
    const end = s.indexOf("'", 1);
    if (end < 0) return { why: 'unterminated single quote' };
    const value = s.slice(1, end);
    const bad = /[$`]/.exec(value);
    if (bad) return { why: `"${bad[0]}" is not allowed (values are never expanded)` };
    return { value, rest: s.slice(end + 1) };
  }
  if (q === '"') {
    let value = '';
    for (let i = 1; i < s.length; i++) {
      const c = s[i]!;
      if (c === '"') return { value, rest: s.slice(i + 1) };
      if (c === '$' || c === '`') return { why: `"${c}" ${EXPANDS}` };
      if (c === '\\') {
        const next = s[i + 1];
        if (next === '"' || next === '\\') {
          value += next;
          i++;
          continue;
        }
        return { why: `backslash escape "\\${next ?? ''}" is not supported (only \\" and \\\\ inside double quotes)` };
      }
      value += c;
    }
    return { why: 'unterminated double quote' };
  }
  let i = 0;
  let value = '';
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') break;
    if (c === '$' || c === '`') return { why: `"${c}" ${EXPANDS}` };
    if (c === '\\') return { why: 'backslash is not allowed in an unquoted value' };
    if (!BARE_OK.test(c)) return { why: `shell metacharacter ${JSON.stringify(c)} is not allowed in an unquoted value` };
    value += c;
  }
  return { value, rest: s.slice(i) };
}

/** Every assignment, in file order; each bad line becomes one problem naming its line. */
export function readAssignments(file: string, lines: Line[], problems: Problems): Assignment[] {
  const out: Assignment[] = [];
  for (const { n, text } of lines) {
    let s = text.trim();
    if (s === '' || s.startsWith('#')) continue;
    const where = `line ${n}`;
    if (/^export[ \t]/.test(s)) s = s.slice(7).trimStart();
    const k = KEY.exec(s);
    if (!k) {
      problems.add(file, where, text, 'expected KEY=VALUE (a shell variable name, "=", a value)');
      continue;
    }
    const key = k[0];
    const afterKey = s.slice(key.length);
    if (/^[ \t]*=/.test(afterKey) && afterKey[0] !== '=') {
      problems.add(file, `${where}: ${key}`, text, 'no spaces are allowed before "=" (shell syntax: KEY=VALUE)');
      continue;
    }
    if (afterKey[0] !== '=') {
      problems.add(file, where, text, 'expected KEY=VALUE (a shell variable name, "=", a value)');
      continue;
    }
    const raw = afterKey.slice(1);
    if (raw.startsWith(' ') || raw.startsWith('\t')) {
      problems.add(file, `${where}: ${key}`, raw, 'no spaces are allowed after "=" (a shell would run the value as a command); quote the value instead');
      continue;
    }
    const lex = lexValue(raw);
    if ('why' in lex) {
      problems.add(file, `${where}: ${key}`, raw, lex.why);
      continue;
    }
    const rest = lex.rest;
    if (rest !== '' && !/^[ \t]+(#.*)?$/.test(rest)) {
      const quoted = raw.startsWith('"') || raw.startsWith("'");
      const why = quoted
        ? 'unexpected text after the closing quote'
        : /^[ \t]/.test(rest)
          ? `unquoted value contains a space; quote it: ${key}="${(lex.value + rest).trim()}"`
          : 'unexpected text after the value';
      problems.add(file, `${where}: ${key}`, raw, why);
      continue;
    }
    out.push({ key, value: lex.value, line: n });
  }
  return out;
}

/** A value as a shell reads it back unchanged: bare when safe, else double-quoted (values never hold $ ` \ "). */
export function shellQuote(v: string): string {
  if (v !== '' && [...v].every((c) => BARE_OK.test(c))) return v;
  return `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

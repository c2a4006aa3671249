/**
 * In-place edits of the distribution's own network files, written so that they can be undone from the
 * file's content alone (no backup needed, though the applier keeps one): every line we disable keeps
 * its text behind DISABLED, every line we add follows an ADDED line, every comment we add starts with
 * NOTE, and a file we take over (ours on top, the distribution's below) has ORIGINAL_FOLLOWS between.
 * `restoreOriginal` inverts all of them, so each run recomputes its edits from the pristine text.
 */
import { HEADER } from '../renderers/common.js';
import type { PlannedFile } from '../../types/plan.js';

export const DISABLED = '#[contextualization disabled] ';
export const ADDED = '#[contextualization added the next line]';
export const NOTE = '#[contextualization] ';
export const ORIGINAL_FOLLOWS = '#[contextualization: the distribution\'s original follows, restored when the context no longer configures this NIC]';

const MARKS = [DISABLED, ADDED, NOTE, ORIGINAL_FOLLOWS];

/** Whether `text` holds edits of ours (so restoring it changes something). */
export function hasEdits(text: string): boolean {
  return text.split('\n').some((l) => MARKS.some((m) => l.startsWith(m)));
}

/** Whether `text` holds a distribution original (disabled lines or a taken-over file): never to be deleted as stale. */
export function holdsOriginal(text: string): boolean {
  return text.split('\n').some((l) => l.startsWith(DISABLED) || l === ORIGINAL_FOLLOWS);
}

/** The distribution's file exactly as it was before any edit of ours. */
export function restoreOriginal(text: string): string {
  let lines = text.split('\n');
  const taken = lines.indexOf(ORIGINAL_FOLLOWS);
  if (taken >= 0) lines = lines.slice(taken + 1);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith(NOTE)) continue;
    if (l === ADDED) {
      i++; // the added line itself
      continue;
    }
    out.push(l.startsWith(DISABLED) ? l.slice(DISABLED.length) : l);
  }
  return out.join('\n');
}

/** Every line of `original` disabled: the file stays, says why, and reads as empty to its parser. */
export function disableAll(original: string, why: string): string {
  const lines = original.split('\n');
  const last = lines.pop(); // '' when the file ends with a newline: kept as is so the restore is byte-exact
  return [`${NOTE}${why}`, ...lines.map((l) => DISABLED + l), last].join('\n');
}

/** Our content on top, the distribution's original below, disabled (a file name both of us use). */
export function takeOver(ours: string, original: string): string {
  const body = original.split('\n');
  const last = body.pop();
  return [ours.endsWith('\n') ? ours.slice(0, -1) : ours, ORIGINAL_FOLLOWS, ...body.map((l) => DISABLED + l), last].join('\n');
}

/**
 * The write that brings `current` to `wanted` (undefined when they are equal), with a reason saying
 * whether the distribution's lines were disabled for some NICs or restored.
 */
export function editOf(path: string, current: string, wanted: string, mode: number, nics: string[], what: string): PlannedFile | undefined {
  if (wanted === current) return undefined;
  const reason =
    nics.length > 0
      ? `${what} for ${nics.join(', ')} disabled in place (the context configures ${nics.length > 1 ? 'them' : 'it'}; undone when it no longer does)`
      : `${what} restored (the context no longer configures the NICs it was disabled for)`;
  return { path, content: wanted, mode, reason };
}

/** Our own whole file, with the usual header and one line saying what it overrides. */
export function ownFile(why: string, body: string[]): string {
  return `${[HEADER, `# ${why}`, ...body].join('\n')}\n`;
}

/** fnmatch(3) without flags, as networkd's Name= and NM's interface-name match use it: * ? [...] [!...]. */
export function globMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, end);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      re += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  try {
    return new RegExp(`${re}$`, 's').test(s);
  } catch {
    return true; // a pattern we cannot read: assume it matches (the safe side: we then keep it off our NIC)
  }
}
